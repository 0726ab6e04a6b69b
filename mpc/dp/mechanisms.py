"""DP mechanisms on SecretTensors: the noise is added inside MPC, only the noisy result leaves.

Every mechanism first validates its arguments and charges its ``accountant``
(:class:`~mpc.dp.accountant.Accountant`); an over-budget query raises
:class:`~mpc.errors.PrivacyBudgetExceeded` before any noise is sampled, any message is sent or
anything is revealed. All parties must call a mechanism with the same public arguments and
hold accountants in the same state (each party charges its own: no communication), so all of
them refuse the same query.

Neighbouring datasets: one record replaced by another (bounded DP). The record count is public
in MPC (shapes are), so it is not protected; sensitivities below are for replacement.

Granularity (the fixed-point domain). A Fixed(f) query value is first brought to the grid of
multiples of 2^-g inside MPC (exact truncation: floor(x 2^g) or that + 1, see
:func:`mpc.dp._bridge.to_grid`), integer noise is added in those units and the sum is revealed.
Nothing below 2^-g ever leaves: the revealed value is an integer times 2^-g, so the low bits of
the query cannot leak through the noise (Mironov, CCS 2012). Rounding moves each coordinate by
less than 2 grid units, so a query of sensitivity Delta (value units, L1 or L2 over d
coordinates) has grid sensitivity Delta_g = Delta 2^g + 2d (L1) or Delta 2^g + 2 sqrt(d) (L2),
plus one unit 2^-f per coordinate of the inputs' own encoding; the noise is calibrated to
Delta_g, so the guarantee charged holds exactly for the rounded query. By default g is the
smallest g <= f with Delta 2^g >= 32 d (rounding costs at most ~6% more noise); ``granularity=g``
overrides. Int64 queries are integers already (g = 0, Delta_g = Delta).

Noise: ``noise="joint"`` (default): :mod:`mpc.dp.noise` samplers secure against n-1 colluding
parties; ``noise="distributed"`` with ``honest_parties=h`` (Gaussian only): each party adds its
own discrete Gaussian part, private as long as h parties are honest.

Mechanisms (each one reveal round for the result, besides its noise and clipping):
- :func:`laplace_mechanism`: discrete Laplace of scale Delta_g / epsilon: epsilon-DP.
- :func:`gaussian_mechanism`: discrete Gaussian of sigma_g = Delta_g / sqrt(2 rho): rho-zCDP
  (Canonne, Kamath and Steinke, NeurIPS 2020).
- :func:`noisy_sum`, :func:`noisy_mean`: clipping to public [lower, upper] inside MPC (8 rounds
  for 2 parties), the sum over records (local), then Laplace or Gaussian noise.
- :func:`noisy_count`: the sum of a 0/1 mask over records, sensitivity 1.
- :func:`noisy_histogram`: one-hot of the public categories inside MPC (values outside
  [0, bins) count nowhere: clipping), counts of sensitivity 2 (L1) / sqrt 2 (L2).
- :func:`report_noisy_max`: discrete Laplace noise of scale 2 Delta_g / epsilon on each score,
  argmax inside MPC, only the index revealed: epsilon-DP (Dwork and Roth 2014, Claim 3.9; the
  argument holds for the discrete Laplace with integer scores, ties to the first index).
- :func:`exponential_mechanism`: report-noisy-max with one-sided geometric (discrete
  exponential) noise of scale 2 Delta_g / epsilon, which is the permute-and-flip mechanism
  (McKenna and Sheldon, NeurIPS 2020; Ding, Kifer et al., "The permute-and-flip mechanism is
  identical to report-noisy-max with exponential noise", 2021): epsilon-DP, and its expected
  utility is never worse than the exponential mechanism's (McSherry and Talwar, FOCS 2007).
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from mpc.dp import _bridge, noise
from mpc.dp._rational import to_fraction
from mpc.dp.accountant import ZCDP, Accountant, PureDP
from mpc.dtypes import Int64
from mpc.errors import ConfigError, ShareTypeError
from mpc.tensor.secret_tensor import SecretTensor

__all__ = ["exponential_mechanism", "gaussian_mechanism", "laplace_mechanism", "noisy_count", "noisy_histogram",
           "noisy_mean", "noisy_sum", "report_noisy_max"]

_NOISES = ("joint", "distributed")


def _tensor(x: object, name: str) -> SecretTensor:
    if not isinstance(x, SecretTensor):
        raise ShareTypeError(f"{name}: expected a SecretTensor, got {type(x).__name__}")
    return x


def _accountant(acct: object) -> Accountant:
    if not isinstance(acct, Accountant):
        raise ConfigError(f"accountant: expected an mpc.dp.Accountant, got {type(acct).__name__}")
    return acct


def _grid(x: SecretTensor, sensitivity: Fraction, d: int, norm: str, granularity: int | None) -> tuple[int, Fraction]:
    """(g, Delta_g): the grid 2^-g and the sensitivity in grid units (see the module)."""
    if isinstance(x.dtype, Int64):
        if granularity not in (None, 0):
            raise ConfigError("granularity: Int64 queries are integers (granularity 0)")
        return 0, sensitivity
    f = x.dtype.f
    if granularity is None:
        g = 0
        while g < f and sensitivity * 2**g < 32 * d:
            g += 1
    elif isinstance(granularity, bool) or not isinstance(granularity, int) or not 0 <= granularity <= f:
        raise ConfigError(f"granularity: expected g in [0, {f}] (grid 2^-g), got {granularity!r}")
    else:
        g = granularity
    per = Fraction(d) if norm == "l1" else _sqrt_up(d)
    return g, (sensitivity + per / 2**f) * 2**g + 2 * per


def _sqrt_up(d: int) -> Fraction:
    """A rational upper bound of sqrt(d) (exact for squares)."""
    r = math.isqrt(d)
    return Fraction(r) if r * r == d else Fraction(math.isqrt(d * 10**12) + 1, 10**6)


def _release(party, x: SecretTensor, z: SecretTensor, g: int):
    """Reveal grid(x) + z as values: integers for Int64, multiples of 2^-g for Fixed."""
    out = party.reveal(_bridge.to_grid(x, g) + z)
    if isinstance(x.dtype, Int64):
        return out
    return np.asarray(out, dtype=np.float64) * 2.0**-g if np.ndim(out) else float(out) * 2.0**-g


def _noise_args(noise_kind: str, honest_parties: int | None) -> None:
    if noise_kind not in _NOISES:
        raise ConfigError(f"noise: expected one of {', '.join(_NOISES)}, got {noise_kind!r}")
    if noise_kind == "distributed" and honest_parties is None:
        raise ConfigError("honest_parties: distributed noise needs the number of parties assumed honest")


def _plan_laplace(x: SecretTensor, sensitivity: object, epsilon: object, d: int,
                  granularity: int | None) -> tuple[int, Fraction, PureDP]:
    """(g, noise scale in grid units, the event to charge) of a Laplace release."""
    eps = to_fraction(epsilon, "epsilon")
    g, delta_g = _grid(x, to_fraction(sensitivity, "sensitivity"), d, "l1", granularity)
    return g, delta_g / eps, PureDP(float(eps))


def _plan_gaussian(x: SecretTensor, sensitivity: object, rho: object, d: int,
                   granularity: int | None) -> tuple[int, Fraction, ZCDP]:
    """(g, sigma in grid units, the event to charge) of a Gaussian release."""
    r = to_fraction(rho, "rho")
    g, delta_g = _grid(x, to_fraction(sensitivity, "sensitivity"), d, "l2", granularity)
    sigma = to_fraction(float(delta_g) / math.sqrt(2 * float(r)), "sigma")  # exact from here on
    return g, sigma, ZCDP(float(delta_g**2 / (2 * sigma * sigma)))  # the rho this sigma gives


def _gaussian_noise(party, sigma: Fraction, shape, noise_kind: str, honest_parties: int | None) -> SecretTensor:
    if noise_kind == "distributed":
        return noise.distributed_discrete_gaussian(party, sigma, shape, honest_parties=honest_parties)
    return noise.discrete_gaussian(party, sigma, shape)


def laplace_mechanism(party, x: SecretTensor, *, sensitivity: object, epsilon: object, accountant: Accountant,
                      granularity: int | None = None):
    """x + discrete Laplace noise, revealed: epsilon-DP for an L1 ``sensitivity`` (value units)."""
    x = _tensor(x, "x")
    acct = _accountant(accountant)
    g, scale, event = _plan_laplace(x, sensitivity, epsilon, max(x.size, 1), granularity)
    acct.charge(event)
    return _release(party, x, noise.discrete_laplace(party, scale, x.shape), g)


def gaussian_mechanism(party, x: SecretTensor, *, sensitivity: object, rho: object, accountant: Accountant,
                       noise_kind: str = "joint", honest_parties: int | None = None,
                       granularity: int | None = None):
    """x + discrete Gaussian noise, revealed: rho-zCDP for an L2 ``sensitivity`` (value units).
    ``noise_kind="distributed"`` needs ``honest_parties`` (see :mod:`mpc.dp.noise`)."""
    x = _tensor(x, "x")
    acct = _accountant(accountant)
    _noise_args(noise_kind, honest_parties)
    g, sigma, event = _plan_gaussian(x, sensitivity, rho, max(x.size, 1), granularity)
    acct.charge(event)
    return _release(party, x, _gaussian_noise(party, sigma, x.shape, noise_kind, honest_parties), g)


def _bounds(x: SecretTensor, lower: object, upper: object) -> tuple[tuple, Fraction]:
    lo, hi = to_fraction(lower, "lower", positive=False), to_fraction(upper, "upper", positive=False)
    if not lo < hi:
        raise ConfigError(f"lower, upper: expected lower < upper, got {lower!r}, {upper!r}")
    if x.ndim == 0:
        raise ConfigError("x: expected records along axis 0, got a 0-d tensor")
    if isinstance(x.dtype, Int64):
        if lo.denominator != 1 or hi.denominator != 1:
            raise ConfigError("lower, upper: integer bounds for an Int64 tensor")
        return (int(lo), int(hi)), hi - lo
    return (float(lo), float(hi)), hi - lo


def _release_stat(party, stat, x: SecretTensor, d: int, sensitivity_l1: Fraction, sensitivity_l2: Fraction,
                  accountant: Accountant, epsilon, rho, granularity, noise_kind, honest_parties):
    """Plan, charge, then compute ``stat()`` (a SecretTensor: clipping, one-hot...) and release."""
    acct = _accountant(accountant)
    if (epsilon is None) == (rho is None):
        raise ConfigError("epsilon, rho: pass exactly one (Laplace: epsilon; Gaussian: rho)")
    _noise_args(noise_kind, honest_parties)
    if epsilon is not None:
        g, scale, event = _plan_laplace(x, sensitivity_l1, epsilon, d, granularity)
    else:
        g, sigma, event = _plan_gaussian(x, sensitivity_l2, rho, d, granularity)
    acct.charge(event)  # before the statistic's own protocol sends anything
    value = stat()
    z = noise.discrete_laplace(party, scale, value.shape) if epsilon is not None else \
        _gaussian_noise(party, sigma, value.shape, noise_kind, honest_parties)
    return _release(party, value, z, g)


def noisy_sum(party, x: SecretTensor, *, lower: object, upper: object, accountant: Accountant,
              epsilon: object = None, rho: object = None, granularity: int | None = None,
              noise_kind: str = "joint", honest_parties: int | None = None):
    """Sum over records (axis 0) of x clipped to [lower, upper] (public), with Laplace noise
    (``epsilon``) or Gaussian noise (``rho``). Sensitivity: upper - lower per coordinate."""
    x = _tensor(x, "x")
    clip, per = _bounds(x, lower, upper)
    d = max(math.prod(x.shape[1:]), 1)
    return _release_stat(party, lambda: x.clip(*clip).sum(axis=0), x, d, per * d, per * _sqrt_up(d),
                         accountant, epsilon, rho, granularity, noise_kind, honest_parties)


def noisy_mean(party, x: SecretTensor, *, lower: object, upper: object, accountant: Accountant,
               epsilon: object = None, rho: object = None, granularity: int | None = None):
    """The noisy sum divided by the public record count x.shape[0] (post-processing)."""
    x = _tensor(x, "x")
    if x.ndim == 0 or x.shape[0] == 0:
        raise ConfigError("x: expected at least one record along axis 0")
    return noisy_sum(party, x, lower=lower, upper=upper, accountant=accountant, epsilon=epsilon, rho=rho,
                     granularity=granularity) / x.shape[0]


def noisy_count(party, mask: SecretTensor, *, epsilon: object, accountant: Accountant):
    """How many records (axis 0) have mask 1 (an Int64 0/1 tensor), with discrete Laplace noise
    of scale 1/epsilon: epsilon-DP. Integer result."""
    mask = _tensor(mask, "mask")
    if not isinstance(mask.dtype, Int64):
        raise ConfigError("mask: expected an Int64 tensor of 0/1 values")
    if mask.ndim == 0:
        raise ConfigError("mask: expected records along axis 0")
    return laplace_mechanism(party, mask.sum(axis=0), sensitivity=1, epsilon=epsilon, accountant=accountant)


def noisy_histogram(party, values: SecretTensor, *, bins: int, accountant: Accountant, epsilon: object = None,
                    rho: object = None, noise_kind: str = "joint", honest_parties: int | None = None):
    """Counts of the values 0 .. bins-1 among the records (Int64, shape (m,)) with Laplace
    (``epsilon``) or Gaussian (``rho``) noise; values outside the range count nowhere."""
    values = _tensor(values, "values")
    if not isinstance(values.dtype, Int64) or values.ndim != 1:
        raise ConfigError("values: expected a 1-d Int64 tensor of category indices")
    if isinstance(bins, bool) or not isinstance(bins, int) or not 1 <= bins <= 1 << 16:
        raise ConfigError(f"bins: expected an integer in [1, 65536], got {bins!r}")

    def counts() -> SecretTensor:  # one-hot (m, bins): one zero test per pair, 7 rounds for 2 parties
        return values.reshape(-1, 1).eq(np.arange(bins, dtype=np.int64)).sum(axis=0)
    return _release_stat(party, counts, values, 1, Fraction(2), _sqrt_up(2), accountant, epsilon, rho, None,
                         noise_kind, honest_parties)


def _noisy_argmax(party, scores: SecretTensor, sensitivity: object, epsilon: object, accountant: Accountant,
                  granularity: int | None, sampler) -> int:
    scores = _tensor(scores, "scores")
    if scores.ndim != 1 or scores.shape[0] < 1:
        raise ConfigError(f"scores: expected a 1-d tensor of at least one score, got shape {scores.shape}")
    acct = _accountant(accountant)
    eps = to_fraction(epsilon, "epsilon")
    g, delta_g = _grid(scores, to_fraction(sensitivity, "sensitivity"), 1, "l1", granularity)
    delta_g = Fraction(math.ceil(delta_g))  # integer scores: the argument shifts by whole units
    acct.charge(PureDP(float(eps)))
    noisy = _bridge.to_grid(scores, g) + sampler(party, 2 * delta_g / eps, scores.shape)
    return int(party.reveal(noisy.argmax()))


def report_noisy_max(party, scores: SecretTensor, *, sensitivity: object, epsilon: object,
                     accountant: Accountant, granularity: int | None = None) -> int:
    """Index of the largest score after discrete Laplace noise (scale 2 Delta_g / epsilon);
    ``sensitivity``: the most any one score changes between neighbours. epsilon-DP."""
    return _noisy_argmax(party, scores, sensitivity, epsilon, accountant, granularity, noise.discrete_laplace)


def exponential_mechanism(party, utilities: SecretTensor, *, sensitivity: object, epsilon: object,
                          accountant: Accountant, granularity: int | None = None) -> int:
    """Index chosen by report-noisy-max with one-sided geometric noise (permute-and-flip):
    epsilon-DP, at least the exponential mechanism's expected utility. See the module."""
    return _noisy_argmax(party, utilities, sensitivity, epsilon, accountant, granularity, noise.geometric)

