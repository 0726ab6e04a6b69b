"""DP-SGD under MPC: per-example clipping with secret norms, secret Poisson batches, noise
sampled inside MPC, one accountant step per batch (Abadi, Chu, Goodfellow, McMahan, Mironov,
Talwar and Zhang, "Deep learning with differential privacy", CCS 2016).

    opt = mpc.dp.DPSGD(mpc.nn.SGD(enc.parameters(), lr=0.5), max_grad_norm=1.0,
                       noise_multiplier=1.1, accountant=Accountant(3.0, 1e-5), party=party,
                       dataset_size=N, sample_rate=64 / N)        # sampling="poisson", the default
    for _ in range(steps):
        opt.step(loss_fn(enc(X), Y))          # every record: the batch is a secret mask over them

    # or public fixed-size batches (no amplification by sampling is charged: see Sampling)
    opt = mpc.dp.DPSGD(..., dataset_size=N, sampling="shuffled")
    for xb, yb in mpc.nn.batches(X, Y, batch_size=64, shuffle=True, seed=party):
        opt.step(loss_fn(enc(xb), yb))

One step on a batch of B examples (under Poisson sampling: all N records, B = N below, and a
secret Bernoulli(q) bit per record), model parameters theta (d values), clipping norm C, noise
multiplier z, grid 2^-g (``granularity``):
1. Charge ``accountant`` with :meth:`DPSGD.event` (``SampledGaussian(q, z)``; see Sampling):
   over budget raises :class:`~mpc.errors.PrivacyBudgetExceeded` before any message of the step.
2. Per-example backward (``loss.backward(per_example=True)``, :mod:`mpc.nn.per_example`): the
   secret squared norms n_i = ||grad_i||^2 without forming the per-example gradients of a
   Linear layer (||g_i||^2 (||x_i||^2 + 1), Goodfellow 2015).
3. Clip factors c_i = min(1, C' / sqrt(n_i)) = C' rsqrt(max(n_i, C'^2)) (a comparison, then
   :func:`mpc.functions.rsqrt`), truncated to 2^-f, lowered by 2^(1-f) and floored at 0 (a
   comparison): c_i never exceeds the exact factor. C' = C (1 - 2^-8) leaves room for rsqrt's
   relative error (1e-5) and the fixed-point rounding of n_i and of c_i g_i (at most
   sqrt(out) 2^-15 ||x_i|| per layer: negligible while that is far below 2^-8 C).
4. S = sum_i c_i grad_i: each layer's ordinary parameter gradient of the rows c_i g_i (the
   gradient is linear in g): one product per layer more than a plain step. Poisson sampling:
   c_i is first multiplied by the record's secret bit b_i (:mod:`mpc.dp.subsample`: 8 rounds
   for the bits, in parallel for all records, and one product round), so S sums the clipped
   gradients of the sampled records only, and neither who was sampled nor how many is known.
5. Noise on the grid: S is truncated to integers in units of 2^-g (floor or floor + 1, as every
   release of :mod:`mpc.dp.mechanisms`), integer noise Z ~ N_Z(0, sigma_g^2) is added, and the
   result (an integer times 2^-g, so nothing below 2^-g of S is in it: Mironov, CCS 2012)
   becomes the parameters' gradient with ``grad_scale`` B: the optimiser steps on
   (S + noise) / B, the DP-SGD update. Poisson sampling divides by the expected batch size
   q N (rounded to an integer) instead of the secret one, as Opacus does. Nothing is revealed: the model stays secret; whatever
   is later opened (``enc.to_torch``) is post-processing of the noisy gradients.

Noise and its calibration. Rounding S moves each of the d coordinates by less than 2 grid
units, so in grid units the L2 sensitivity of one example (added or removed) is
Delta_g = C 2^g + 2 sqrt(d), and sigma_g = z Delta_g: each step is the (discrete) Gaussian
mechanism with noise multiplier z on the rounded sum, which is what is charged. The noise
standard deviation in gradient units is z C (1 + 2 sqrt(d) / (C 2^g)): noise_multiplier * C
plus the rounding allowance. The default g is the smallest g <= f with C 2^g >= 16 sqrt(d)
(at most 12.5% more noise than z C); ``granularity=g`` sets it.

- ``noise="joint"`` (default): :func:`mpc.dp.noise.discrete_gaussian`, sampled jointly from
  shared random bits: no coalition of n-1 parties learns the noise (the guarantee of the whole
  computation). Its cost grows with sigma_g (a table of ~19 sigma_g points; one-hot
  selection of 2^L boundaries per sample), so fine grids over many parameters are costly:
  measured in bench/dp.py (op dpsgd).
- ``noise="distributed"`` with ``honest_parties=h``: each party adds its own
  N_Z(0, sigma_g^2 / h) (:func:`mpc.dp.noise.distributed_discrete_gaussian`): one input round
  whatever sigma_g, private as long as h parties keep their part secret.
Why a discrete Gaussian on the grid rather than a rounded continuous Gaussian: it is exact (no
floating point on the sampling path), and N_Z(0, sigma^2) added to an integer-valued query of
L2 sensitivity Delta satisfies the same Renyi-DP curve as the continuous Gaussian (Canonne, Kamath and Steinke,
NeurIPS 2020); the accountant's sampled-Gaussian bound (Mironov, Talwar and Zhang 2019) is
proved for the continuous mechanism, and applying it to the discrete one is an assumption of
this implementation (resting on that equal RDP curve; not proved here).

Sampling (``sampling=``). The sampled-Gaussian charge SampledGaussian(q, z) assumes each batch
is a Poisson sample of rate q (every record in independently with probability q) whose members
and size the adversary does not learn.
- ``"poisson"`` (default, with ``sample_rate=q``): exactly that. Each step takes the loss over
  all N records; each record's clip factor is multiplied by a secret Bernoulli(q) bit drawn
  jointly inside MPC (:func:`mpc.dp.subsample.bernoulli_mask`; q is used exactly when it is a
  dyadic rational, such as any float, else rounded down to the 2^-64 grid, and the rate used is
  the one charged). Nothing per record is opened. The cost: every step is a forward and a
  per-example backward over the N records instead of B = q N, i.e. about 1 / q times a
  fixed-batch step (plus 8 rounds and ~46 bytes per record per party for the bits), and an
  epoch (1 / q steps) about 1 / q fixed-batch epochs. Measured in bench/dp.py
  (ops ``dpsgd-poisson-*``). A padded public-size block would need an oblivious compaction of
  the sampled records (not implemented).
- ``"shuffled"``: public fixed-size batches (``mpc.nn.batches``); the parties know each batch,
  so no amplification by sampling is charged: each step is charged SampledGaussian(1, z), the
  plain Gaussian mechanism, valid for any batching. Cheap per step, expensive in budget.
- ``"shuffled_as_poisson"``: public fixed-size batches charged SampledGaussian(B / N, z), the
  common practice (TF-Privacy, Opacus without Poisson sampling) and this module's behaviour
  before Poisson sampling. A heuristic, labelled as such: fixed-size shuffled batches are not
  Poisson samples (Chua et al., "How private are DP-SGD implementations?", ICML 2024, show the
  two accountings can differ), and a party that knows the batch order gets no amplification at
  all. Use it to compare with that practice, not for a guarantee.
Granularity: example-level DP (one record, added or removed, as the sampled-Gaussian analysis and Opacus take it; a replaced record
moves the sum by up to 2C: the guarantee of noise multiplier z / 2 under replacement).

Security: semi-honest (the engines'). Costs per step (2 parties): the per-example backward
(+4 rounds per Linear layer for the norms), clipping ~45 rounds (max 8, rsqrt 26, truncation,
floor 8, a product), the weighted sum (+1 product round per layer), the grid truncation
(1 round) and the noise (joint: 8 L rounds per 512 parameters, L = ceil(log2 of the table
size)); Poisson sampling: the Bernoulli bits (8 rounds) and their product with the clip factors
(1 round), over all N records.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any, Protocol

import numpy as np

import mpc.functions as F
from mpc.dp import _bridge, _tables, noise, subsample
from mpc.dp._rational import to_fraction
from mpc.dp.accountant import Accountant, SampledGaussian
from mpc.errors import ConfigError, ShareTypeError
from mpc.tensor.functions import concatenate
from mpc.tensor.secret_tensor import SecretTensor

__all__ = ["DPSGD", "CLIP_MARGIN", "NOISE_CHUNK", "noise_multiplier_for"]

CLIP_MARGIN = 2.0**-8  # C' = C (1 - CLIP_MARGIN), see step 3
# joint noise is sampled 512 values per call: up to 512 samples per one-hot block, the sampler
# selects boundaries with bitsliced array operations instead of a Python loop over the blocks
# (measured: 650 samples at sigma 1685, 2 parties in threads: 6.0 s in 2 calls, 15.4 s in one)
NOISE_CHUNK = 512
_NOISES = ("joint", "distributed")
SAMPLINGS = ("poisson", "shuffled", "shuffled_as_poisson")


class _PerExample(Protocol):  # mpc.nn.per_example.PerExampleGrads (mpc.dp does not import mpc.nn)
    batch: int

    def sq_norms(self) -> SecretTensor: ...

    def accumulate(self, weights: SecretTensor, scale: int) -> None: ...


def _sqrt_up(d: int) -> Fraction:
    """A rational upper bound of sqrt(d) (exact for squares)."""
    r = math.isqrt(d)
    return Fraction(r) if r * r == d else Fraction(math.isqrt(d * 10**12) + 1, 10**6)


def noise_multiplier_for(epsilon: float, delta: float, sample_rate: float, steps: int) -> float:
    """The smallest noise multiplier z (to 0.1%) whose ``steps`` sampled-Gaussian steps of rate
    ``sample_rate`` spend at most ``epsilon`` at ``delta`` (the accountant's RDP composition):
    how DP-SGD is usually configured (epochs, batch size and a target epsilon)."""
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ConfigError(f"steps: expected a positive integer, got {steps!r}")

    def spent(z: float) -> float:
        return Accountant(1e300, delta).epsilon_if(SampledGaussian(sample_rate, z), steps)

    lo, hi = 1e-2, 1.0
    while spent(hi) > epsilon:
        lo, hi = hi, hi * 2
        if hi > 1e4:
            raise ConfigError(f"epsilon = {epsilon} is out of reach for {steps} steps at q = {sample_rate}")
    while hi / lo > 1.001:
        mid = (lo * hi) ** 0.5
        lo, hi = (lo, mid) if spent(mid) <= epsilon else (mid, hi)
    return hi


class DPSGD:
    """DP-SGD around an mpc.nn optimiser (see the module docstring).

    ``optimizer``: ``mpc.nn.SGD`` or ``mpc.nn.Adam`` (anything with ``params``, ``step()`` and
    ``zero_grad()``); ``party`` the Party; ``max_grad_norm`` C; ``noise_multiplier`` z; ``accountant`` charged
    :meth:`event` per step; ``noise`` "joint" or "distributed" (with ``honest_parties``);
    ``granularity`` g (noise grid 2^-g); ``sampling`` "poisson" (with ``sample_rate`` q: the
    default), "shuffled" or "shuffled_as_poisson" (module docstring, Sampling)."""

    def __init__(self, optimizer: Any, max_grad_norm: float, noise_multiplier: float, accountant: Accountant, *,
                 party: Any, dataset_size: int, noise: str = "joint", honest_parties: int | None = None,
                 granularity: int | None = None, sampling: str = "poisson", sample_rate: object = None) -> None:
        params = getattr(optimizer, "params", None)
        if not params or not callable(getattr(optimizer, "step", None)):
            raise ConfigError(f"optimizer: expected an mpc.nn optimiser (SGD, Adam), got {type(optimizer).__name__}")
        if not isinstance(accountant, Accountant):
            raise ConfigError(f"accountant: expected an mpc.dp.Accountant, got {type(accountant).__name__}")
        self.C = to_fraction(max_grad_norm, "max_grad_norm")
        self.z = to_fraction(noise_multiplier, "noise_multiplier")
        if self.C <= 0 or self.z <= 0:
            raise ConfigError("max_grad_norm and noise_multiplier must be positive")
        if isinstance(dataset_size, bool) or not isinstance(dataset_size, (int, np.integer)) or dataset_size < 1:
            raise ConfigError(f"dataset_size: expected a positive integer, got {dataset_size!r}")
        if noise not in _NOISES:
            raise ConfigError(f"noise: expected one of {', '.join(_NOISES)}, got {noise!r}")
        if sampling not in SAMPLINGS:
            raise ConfigError(f"sampling: expected one of {', '.join(SAMPLINGS)}, got {sampling!r}")
        self.sampling = sampling
        self.sample_rate: Fraction | None = None
        if sampling == "poisson":
            if sample_rate is None:
                raise ConfigError("sample_rate: sampling='poisson' needs the rate q (expected batch size / "
                                  "dataset_size); or pass sampling='shuffled' for public fixed-size batches")
            self.sample_rate = subsample.sampled_rate(sample_rate)  # the rate the mask realises (exact)
        elif sample_rate is not None:
            raise ConfigError(f"sample_rate: only with sampling='poisson' (the batch fixes it under {sampling!r})")
        if noise == "distributed" and honest_parties is None:
            raise ConfigError("honest_parties: distributed noise needs the number of parties assumed honest")
        if not hasattr(party, "pid") or not hasattr(party, "n"):
            raise ConfigError(f"party: expected the mpc.Party running the step, got {type(party).__name__}")
        self.optimizer, self.accountant, self.party = optimizer, accountant, party
        self.dataset_size, self.noise, self.honest_parties = int(dataset_size), noise, honest_parties
        # Poisson: the noisy sum is divided by the expected batch size q N (as Opacus does)
        self.expected_batch = max(1, round(self.sample_rate * self.dataset_size)) if self.sample_rate else None
        first = params[0].data
        self.dtype = first.dtype
        f = self.dtype.f
        self.d = int(sum(p.data.size for p in params))
        per = _sqrt_up(self.d)
        if granularity is None:
            g = 0
            while g < f and self.C * 2**g < 16 * per:
                g += 1
        elif isinstance(granularity, bool) or not isinstance(granularity, int) or not 0 <= granularity <= f:
            raise ConfigError(f"granularity: expected g in [0, {f}] (noise grid 2^-g), got {granularity!r}")
        else:
            g = granularity
        self.g = g
        self.delta_g = self.C * 2**g + 2 * per  # L2 sensitivity in grid units (module docstring)
        self.sigma_g = self.z * self.delta_g
        if noise == "joint":
            _tables.gaussian(self.sigma_g * self.sigma_g)  # ConfigError now if the table is too large
        self.steps = 0

    def __repr__(self) -> str:
        return (f"DPSGD(C={float(self.C):g}, z={float(self.z):g}, d={self.d}, grid=2^-{self.g}, "
                f"noise={self.noise}, sampling={self.sampling}, sigma={self.noise_std:.4g} per coordinate, "
                f"steps={self.steps})")

    @property
    def noise_std(self) -> float:
        """The noise standard deviation per coordinate of the summed gradient, in its units."""
        return float(self.sigma_g) / 2**self.g

    # ------------------------------------------------------------------ the step

    def step(self, loss: Any) -> None:
        """One DP-SGD step on ``loss`` (a mpc.nn loss of the batch, from a model in training
        mode): steps 1-5 of the module docstring, then the optimiser's update."""
        self.noisy_grad(loss)
        self.optimizer.step()

    def noisy_grad(self, loss: Any) -> None:
        """Steps 1-5: the parameters' ``grad`` becomes the clipped, noised sum (``grad_scale``
        the batch size B, or the expected batch size q N under Poisson sampling); the optimiser
        is not stepped."""
        batch = int(getattr(loss, "batch", 0) or 0)
        if batch < 1 or not callable(getattr(loss, "backward", None)):
            raise ConfigError(f"step: expected an mpc.nn loss of a batch, got {type(loss).__name__}")
        if batch > self.dataset_size:
            raise ConfigError(f"step: a batch of {batch} from a dataset of {self.dataset_size}")
        if self.sampling == "poisson" and batch != self.dataset_size:
            raise ConfigError(f"step: sampling='poisson' draws the batch as a secret mask over every record: pass "
                              f"the loss over all {self.dataset_size} records, got {batch} (or use "
                              f"sampling='shuffled' for public fixed-size batches)")
        check = getattr(loss, "check_per_example", None)
        if check is None:
            raise ConfigError(f"step: expected an mpc.nn loss (per-example gradients), got {type(loss).__name__}")
        check()  # ConfigError (BatchNorm...) before the charge and before any message
        self.accountant.charge(self.event(batch))
        self.steps += 1
        self.clip(loss)
        self._add_noise(self.expected_batch if self.sampling == "poisson" else batch)

    def event(self, batch: int) -> SampledGaussian:
        """What one step on a batch of ``batch`` rows is charged (module docstring, Sampling)."""
        if self.sampling == "poisson":  # the rate sampled, as a float rounded up (charge at least it)
            q = float(self.sample_rate)
            if Fraction(q) < self.sample_rate:
                q = math.nextafter(q, 1.0)
            return SampledGaussian(q, float(self.z))
        if self.sampling == "shuffled":
            return SampledGaussian(1.0, float(self.z))  # no amplification: the batch is public
        return SampledGaussian(batch / self.dataset_size, float(self.z))  # labelled heuristic

    def clip(self, loss: Any) -> SecretTensor:
        """Steps 2-4 only: the parameters' ``grad`` becomes sum_i c_i grad_i (``grad_scale`` B);
        returns the secret clip factors c (B,). Under Poisson sampling c_i is multiplied by the
        record's secret Bernoulli(q) bit (:func:`mpc.dp.subsample.bernoulli_mask`, one product
        round more). No noise and no charge: on its own this is not differentially private
        (tests compare it with a plaintext reference)."""
        self.optimizer.zero_grad()
        per: _PerExample = loss.backward(per_example=True)
        if per is None or not hasattr(per, "sq_norms"):
            raise ConfigError("clip: the loss returned no per-example gradients (an mpc.nn loss is needed)")
        c = self.clip_factors(per.sq_norms())
        scale = per.batch
        if self.sampling == "poisson":
            c = c * subsample.bernoulli_mask(self.party, self.sample_rate, per.batch)
            scale = self.expected_batch
        per.accumulate(c, scale)
        return c

    def clip_factors(self, sq_norms: SecretTensor) -> SecretTensor:
        """c_i <= min(1, C / sqrt(n_i)) for secret squared norms n (step 3), at scale f."""
        if not isinstance(sq_norms, SecretTensor):
            raise ShareTypeError("clip_factors: expected a SecretTensor")
        f = self.dtype.f
        cm = math.floor(float(self.C) * (1 - CLIP_MARGIN) * 2**f) / 2**f  # exact in Fixed(f), <= C'
        c = (F.rsqrt(sq_norms.maximum(cm * cm)) * cm).truncate()
        return (c - 2.0 ** (1 - f)).relu()

    def _add_noise(self, batch: int) -> None:
        params = self.optimizer.params
        grads = [p.grad if p.grad is not None else p.data * 0.0 for p in params]
        flat = concatenate([gr.reshape(-1) for gr in grads])
        total = _bridge.to_grid(flat, self.g)
        if self.noise == "joint":  # in chunks of NOISE_CHUNK samples: see NOISE_CHUNK
            z = concatenate([noise.discrete_gaussian(self.party, self.sigma_g, (min(NOISE_CHUNK, self.d - lo),))
                             for lo in range(0, self.d, NOISE_CHUNK)])
        else:
            z = noise.distributed_discrete_gaussian(self.party, self.sigma_g, (self.d,),
                                                    honest_parties=self.honest_parties)
        noisy = (total + z).astype(self.dtype) * (2.0**-self.g)  # exact: an integer times 2^-g, scale 2f
        offset = 0
        for p in params:
            size = p.data.size
            p.grad = noisy[offset: offset + size].reshape(p.shape)
            p.grad_scale = int(batch)
            offset += size
