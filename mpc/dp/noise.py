"""Noise inside MPC: secret-shared integer noise that no party learns, or distributed noise.

Joint noise (secure against any n-1 colluding semi-honest parties: the noise is a function of
shared random bits to which every party contributed, and only its sharing is ever held):

- :func:`binomial` (Dwork, Kenthapadi, McSherry, Mironov and Naor, "Our data, ourselves",
  Eurocrypt 2006): the sum of ``n_coins`` fair coins minus n_coins / 2. Exact (each coin is the
  XOR of one private bit per party). Steps: 1. shared coins (0 rounds); 2. a tree of adders
  over the coins of each sample, all samples and all pairs of one level in one adder call
  (level l adds (l+1)-bit counters: 1 + ceil(log2(l + 1)) rounds); 3. B2A of the
  ceil(log2(n_coins + 1)) result bits (1 round). Cost per sample: about 2 n_coins ANDs
  (2 bits sent per AND and peer); rounds sum_l (1 + ceil(log2(l+1))) + 1 (41 for 1600 coins,
  with 1.4 kB per sample per party online: measured, bench/README.md suite dp).
  Variance n_coins / 4; its DP guarantee is approximate (a binomial is close to, not equal
  to, a Gaussian: see Canonne, Kamath and Steinke 2020 for the comparison).
- :func:`discrete_gaussian` and :func:`discrete_laplace`: inversion of the CDF by an oblivious
  binary search (the "table lookup" family of secure samplers surveyed by Fu and Wang,
  "Benchmarking secure sampling protocols for differential privacy", CCS 2024; Keller,
  Moellering, Schneider, Tkachenko and Zhao, "Secure noise sampling for DP in MPC with finite
  precision", ePrint 2023/1594, analyse such finite-precision samplers and their DP). The law's
  2^L - 1 CDF boundaries at precision 2^-63 are public (:mod:`mpc.dp._tables`); per sample:
  1. R: 63 shared random bits (0 rounds);
  2. for level l = 0 .. L-1, with b_(L-1) .. b_(L-l) the index bits found so far (secret):
     the one-hot vector of that prefix (2^(l-1) ANDs, 1 round), the boundary of the prefix's
     node B_((2p + 1) 2^(L-l-1)) selected by it (XOR of public constants under the one-hot bits:
     local), and b_(L-1-l) = [R >= B] (64-bit comparison: 184 ANDs, 7 rounds);
  3. the noise = index - T: B2A of the L index bits (1 round) and a public shift.
  Cost: about 2^L + 184 L ANDs per sample and 8 L - 1 rounds (the first level needs no one-hot,
  the last no update; plus the B2A round); sigma = 20 (L = 9): 71 rounds, ~480 bytes per sample
  per party online and ~310 bytes of dealer material (measured, bench/README.md suite dp).
  The sampled law is within total variation ``tv`` of the exact one (2^-55 at sigma = 20, at
  most 2^-48 for the largest tables allowed): the support is truncated where the tail is below
  2^-64 and the boundaries are rounded to 2^-63 (:func:`tv_bound` gives each table's bound).
  Unlike a rejection sampler run inside MPC (Wei et al., "Securely sampling discrete Gaussian
  noise for multi-party differential privacy", CCS 2023, who report 1.5 minutes for 2^15
  samples at sigma = 20), its cost does not depend on the random draws.

Distributed noise (cheaper: no protocol beyond the input sharing; weaker: each party knows its
own share of the noise): :func:`distributed_discrete_gaussian` with ``honest_parties=h``: every
party samples N_Z(0, sigma^2 / h) locally with the exact sampler and inputs it; the sum is
revealed only with the query. The guarantee assumes at least h parties are honest (do not
reveal or subtract their noise): any coalition of the others knows its own part, the h honest
parts remain. For h = 1 the remaining noise is exactly N_Z(0, sigma^2) (secure against n-1
colluders, at n times the variance); for h > 1 it is the sum of h discrete Gaussians of variance
sigma^2 / h, whose divergence from N_Z(0, sigma^2) is negligible when sigma^2 / h >= 4 (Kairouz,
Liu and Steinke, "The distributed discrete Gaussian mechanism for federated learning with
secure aggregation", ICML 2021, Theorem 1), required here.

All functions return SecretTensors of ``shape`` (Int64 integers; ``dtype=Fixed(f)`` gives the
noise times ``granularity`` = 2^-g, g <= f, exactly). Security: semi-honest, that of the
engines (semi2k with the GMW engine and daBits).
"""

from __future__ import annotations

import math

import numpy as np

from mpc.dp import _bridge, _tables, samplers
from mpc.dp._rational import to_fraction, to_size
from mpc.dtypes import Fixed, Int64
from mpc.errors import ConfigError
from mpc.prg import PRG
from mpc.tensor.functions import stack
from mpc.tensor.secret_bits import SecretBits
from mpc.tensor.secret_tensor import SecretTensor

__all__ = ["binomial", "discrete_gaussian", "discrete_laplace", "distributed_discrete_gaussian", "geometric", "tv_bound"]


def _count(shape: tuple[int, ...]) -> tuple[int, int]:
    count = math.prod(shape)
    return count, max(-(-count // 64) * 64, 64)  # the samples, padded to whole words


def _check_dtype(dtype, granularity: object) -> None:
    """Validate ``dtype`` and ``granularity`` before anything is sampled or sent."""
    if dtype is None or isinstance(dtype, Int64):
        return
    if not isinstance(dtype, Fixed):
        raise ConfigError(f"dtype: expected mpc.Int64() or mpc.Fixed(f), got {dtype!r}")
    if isinstance(granularity, bool) or not isinstance(granularity, int) or not 0 <= granularity <= dtype.f:
        raise ConfigError(f"granularity: expected g in [0, {dtype.f}] (noise in units of 2^-g), got {granularity!r}")


def _finish(noise: SecretTensor, count: int, shape: tuple[int, ...], dtype, granularity: int) -> SecretTensor:
    out = noise[:count].reshape(shape)
    if dtype is None or isinstance(dtype, Int64):
        return out
    fixed = out.astype(dtype)  # value Z, exact
    return fixed if granularity == 0 else fixed * (2.0**-granularity)  # exact: Z 2^(f-g) at scale 2f


# ----------------------------------------------------------------------------- binomial


def binomial(party, n_coins: int, shape: object = (), *, dtype=None, granularity: int = 0) -> SecretTensor:
    """Centred binomial noise: sum of ``n_coins`` (even) shared fair coins minus n_coins / 2."""
    if isinstance(n_coins, bool) or not isinstance(n_coins, (int, np.integer)) or n_coins < 2 or n_coins % 2:
        raise ConfigError(f"n_coins: expected an even integer >= 2, got {n_coins!r}")
    _check_dtype(dtype, granularity)
    shp = to_size(shape, "shape")
    count, padded = _count(shp)
    n_coins = int(n_coins)
    level = _bridge.shared_random_bits(party, padded * n_coins, 1)  # block j: coin j of every sample
    groups = n_coins
    while groups > 1:
        if groups % 2:  # an odd group count: a zero counter joins the last pair
            level = _bridge.join_words([level, SecretBits.zeros(level.engine, padded, level.width)])
            groups += 1
        low, high = _halves(level, groups)
        width = level.width + 1
        level = low.zero_extend(width) + high.zero_extend(width)
        groups //= 2
    noise = _bridge.bits_to_tensor(party, level) - n_coins // 2
    return _finish(noise, count, shp, dtype, granularity)


def _halves(bits: SecretBits, groups: int) -> tuple[SecretBits, SecretBits]:
    """The first and the second half of an even number of word-aligned blocks."""
    low, high = _bridge.split_words(bits, 2)
    return low, high


# ----------------------------------------------------------------------------- inversion sampling


def _bit_reverse(q: int, bits: int) -> int:
    return int(format(q, f"0{bits}b")[::-1], 2) if bits else 0


def _one_hot_step(onehot: SecretBits, blocks: int, bit: SecretBits) -> SecretBits:
    """The one-hot of the prefix extended by ``bit``, one AND round for all blocks at once.

    ``onehot`` holds ``blocks`` word-aligned blocks (one per prefix, each the samples' 0/1); the
    result holds 2 * blocks: first o & ~b for every block, then o & b, so block q of level l
    stands for the prefix whose j-th index bit found (j = 0 first) is bit j of q."""
    both = onehot & _bridge.join_words([bit] * blocks)
    return _bridge.join_words([onehot ^ both, both])


def _select(onehot: SecretBits, blocks: int, constants: list[int]) -> SecretBits:
    """Sum (XOR) over blocks q of onehot_q * constants[q] as 64-bit values: local.

    Few samples per block (a mechanism's handful of noisy values, tables of thousands of
    prefixes): the public constants AND the sign-extended one-hot in one pass, then the blocks
    fold by halves. Many samples: per block, the one-hot bit placed at the constant's 1 bits."""
    size = onehot.n // blocks
    if size <= 512:  # bitslicing n * blocks public values beats 2^l Python-level block steps
        picked = onehot.sign_extend(64) & np.repeat(np.array(constants, dtype=np.uint64), size)
        while blocks > 1:
            low, high = _halves(picked, blocks)
            picked, blocks = low ^ high, blocks // 2
        return picked
    parts = _bridge.split_words(onehot, blocks)
    zero = parts[0] ^ parts[0]
    total = SecretBits.concat_bits([zero] * 64)
    for o, c in zip(parts, constants, strict=True):
        if c:
            total = total ^ SecretBits.concat_bits([o if (c >> k) & 1 else zero for k in range(64)])
    return total


def _invert(party, table: _tables.InversionTable, padded: int) -> SecretTensor:
    """Noise of ``table`` for ``padded`` samples (steps 1-3 of the module docstring)."""
    L = table.levels
    r = _bridge.shared_random_bits(party, padded, 63).zero_extend(64)
    bits: list[SecretBits] = []
    onehot, blocks = None, 0
    for lvl in range(L):
        span = 1 << (L - lvl - 1)
        if lvl == 0:
            b = r.ge(table.boundary(span))
        else:  # block q is the prefix v = bit-reversed q (first bit found = most significant)
            nodes = [table.boundary((2 * _bit_reverse(q, lvl) + 1) * span) for q in range(blocks)]
            b = r.ge(_select(onehot, blocks, nodes))
        bits.append(b)
        if lvl < L - 1:
            if onehot is None:
                onehot, blocks = _bridge.join_words([~b, b]), 2
            else:
                onehot, blocks = _one_hot_step(onehot, blocks, b), 2 * blocks
    index = SecretBits.concat_bits(bits[::-1])  # least significant bit first
    return _bridge.bits_to_tensor(party, index) - table.offset


def _granular(party, table, shape, dtype, granularity) -> SecretTensor:
    _check_dtype(dtype, granularity)
    shp = to_size(shape, "shape")
    count, padded = _count(shp)
    return _finish(_invert(party, table, padded), count, shp, dtype, granularity)


def discrete_gaussian(party, sigma: object, shape: object = (), *, dtype=None, granularity: int = 0) -> SecretTensor:
    """N_Z(0, sigma^2) noise (sigma in integer units) sampled jointly: no coalition of n-1
    parties learns it. Within total variation ``tv_bound('gaussian', sigma)`` of the exact law."""
    sg = to_fraction(sigma, "sigma")
    return _granular(party, _tables.gaussian(sg * sg), shape, dtype, granularity)


def discrete_laplace(party, scale: object, shape: object = (), *, dtype=None, granularity: int = 0) -> SecretTensor:
    """Discrete Laplace noise (P(x) ~ exp(-|x| / scale), integer units) sampled jointly."""
    return _granular(party, _tables.laplace(to_fraction(scale, "scale")), shape, dtype, granularity)


def geometric(party, scale: object, shape: object = (), *, dtype=None, granularity: int = 0) -> SecretTensor:
    """One-sided geometric noise (P(k) ~ exp(-k / scale), k >= 0) sampled jointly: the noise of
    report-noisy-max with exponential noise (:func:`mpc.dp.mechanisms.exponential_mechanism`)."""
    return _granular(party, _tables.geometric(to_fraction(scale, "scale")), shape, dtype, granularity)


def tv_bound(kind: str, param: object) -> float:
    """The total-variation bound of the joint sampler of ``kind`` ('gaussian' with sigma, or
    'laplace' with scale) to the exact law."""
    p = to_fraction(param, "param")
    if kind == "gaussian":
        return _tables.gaussian(p * p).tv
    if kind == "laplace":
        return _tables.laplace(p).tv
    if kind == "geometric":
        return _tables.geometric(p).tv
    raise ConfigError(f"kind: expected 'gaussian', 'laplace' or 'geometric', got {kind!r}")


# ----------------------------------------------------------------------------- distributed noise


def distributed_discrete_gaussian(party, sigma: object, shape: object = (), *, honest_parties: int,
                                  dtype=None, granularity: int = 0, prg: PRG | None = None) -> SecretTensor:
    """The sum of one local N_Z(0, sigma^2 / h) sample per party, h = ``honest_parties``: DP
    (noise N_Z(0, sigma^2), or negligibly far from it for h > 1) as long as h parties are honest.
    Cost: one input agreement round (12 words per party), nothing else. See the module."""
    sg = to_fraction(sigma, "sigma")
    if isinstance(honest_parties, bool) or not isinstance(honest_parties, int) or not 1 <= honest_parties <= party.n:
        raise ConfigError(f"honest_parties: expected an integer in [1, {party.n}], got {honest_parties!r}")
    var = sg * sg / honest_parties
    if honest_parties > 1 and var < 4:
        raise ConfigError(f"sigma: sigma^2 / honest_parties must be >= 4 for the sum to be a discrete Gaussian "
                          f"(Kairouz-Liu-Steinke), got {float(var):.3g}")
    _check_dtype(dtype, granularity)
    shp = to_size(shape, "shape")
    count = math.prod(shp)
    local = samplers.discrete_gaussian_variance(var, count, prg=prg)
    total = stack(party.input(local, dtype=Int64())).sum(axis=0)
    return _finish(total, count, shp, dtype, granularity)
