"""Secret Poisson subsampling: a Bernoulli(q) bit per record that no coalition of n-1 parties
learns, for DP-SGD's batches.

The sampled-Gaussian analysis that DP-SGD's accountant uses (Abadi et al., CCS 2016; Mironov,
Talwar and Zhang, "Renyi differential privacy of the sampled Gaussian mechanism", 2019) assumes
that every record joins each batch independently with probability q, and that the adversary
learns neither who joined nor how many. So the batch is a secret 0/1 mask over the whole data
set, never a public selection of rows: :class:`mpc.dp.DPSGD` (``sampling="poisson"``)
multiplies each record's clip factor by its bit, and every step runs over all N records.

Protocol (:func:`bernoulli_mask`, ``count`` records, rate q = m / 2^k with 0 < m < 2^k, k <= 64):

1. R: ``count`` shared random k-bit values (each party XORs in k private bits from its own
   AES-CTR stream: :func:`mpc.dp._bridge.shared_random_bits`). 0 rounds, 0 bytes.
2. b = [R < m]: GMW comparison with a public constant, 1 + ceil(log2 k) rounds.
3. B2A of b with daBits (1 round): an Int64 SecretTensor of 0/1 values.

P(b = 1) = #{R < m} / 2^k = q exactly, and the bits of distinct records and calls are
independent. Security: semi-honest, that of the engines; any n-1 parties see their own parts of
R only, the missing party's part is uniform, so R (hence b) is uniform and independent of their
view; nothing is opened but the engines' masked values. Cost per record: 1 + ceil(log2 k) + 1
rounds in all (8 for k = 64) and one k-bit comparison's ANDs plus one daBit (measured:
bench/dp.py, op ``mpc-bernoulli``).

Rates: a float is the dyadic rational it denotes (exact; k <= 64 for every float in
[2^-11, 1)). Any other rational q (e.g. B / N) is rounded down to the 2^-64 grid:
q' = floor(q 2^64) / 2^64, q - q' < 2^-64. :func:`dyadic_rate` gives the rate actually sampled,
which is what DPSGD charges to the accountant.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from mpc.dp import _bridge
from mpc.dp._rational import to_fraction
from mpc.dtypes import Int64
from mpc.errors import ConfigError
from mpc.prg import PRG
from mpc.tensor.secret_tensor import SecretTensor

__all__ = ["MAX_RATE_BITS", "bernoulli_mask", "dyadic_rate", "sampled_rate"]

MAX_RATE_BITS = 64


def dyadic_rate(rate: object) -> tuple[int, int]:
    """(m, k) with m / 2^k the rate sampled for ``rate`` in (0, 1]: ``rate`` itself when its
    denominator is a power of two up to 2^64, else ``rate`` rounded down to the 2^-64 grid."""
    q = to_fraction(rate, "sample_rate")
    if q > 1:
        raise ConfigError(f"sample_rate: expected 0 < q <= 1, got {rate!r}")
    den = q.denominator
    if den & (den - 1) == 0 and den.bit_length() - 1 <= MAX_RATE_BITS:
        return q.numerator, den.bit_length() - 1
    m = (q.numerator << MAX_RATE_BITS) // den
    if m == 0:
        raise ConfigError(f"sample_rate: {rate!r} is below 2^-64")
    shift = (m & -m).bit_length() - 1  # reduce m / 2^64
    return m >> shift, MAX_RATE_BITS - shift


def sampled_rate(rate: object) -> Fraction:
    """The rate :func:`bernoulli_mask` realises for ``rate`` (see :func:`dyadic_rate`)."""
    m, k = dyadic_rate(rate)
    return Fraction(m, 1 << k)


def bernoulli_mask(party, rate: object, count: int, *, prg: PRG | None = None) -> SecretTensor:
    """``count`` independent secret Bernoulli(q) bits as an Int64 SecretTensor (0 or 1), q the
    rate of :func:`dyadic_rate` (see the module docstring for the protocol and its cost)."""
    m, k = dyadic_rate(rate)
    if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 1:
        raise ConfigError(f"count: expected a positive integer, got {count!r}")
    count = int(count)
    if k == 0:  # q = 1: every record, nothing secret to draw
        return SecretTensor(party.engine, party.engine.zeros((count,)), Int64()) + 1
    padded = -(-count // 64) * 64
    r = _bridge.shared_random_bits(party, padded, k, prg)
    bit = r < m
    return _bridge.bits_to_tensor(party, bit)[:count]
