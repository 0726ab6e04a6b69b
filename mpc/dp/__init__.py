"""Differential privacy for Tessera: exact samplers, noise inside MPC, mechanisms, accountant.

- :mod:`mpc.dp.samplers`: exact integer samplers (Bernoulli(exp(-gamma)), discrete Laplace,
  discrete Gaussian) from an AES-CTR stream, no floating point.
- :class:`Accountant` (:mod:`mpc.dp.accountant`, :mod:`mpc.dp.rdp`): the privacy budget every
  mechanism charges before it runs; :class:`~mpc.errors.PrivacyBudgetExceeded` when it would
  be exceeded.
- :class:`DPSGD` (:mod:`mpc.dp.dpsgd`): DP-SGD on an mpc.nn model: per-example clipping with
  secret norms, noise sampled inside MPC, one accountant step per batch.

See docs/dp.md for the threat model of each noise source and a worked example.
"""

from mpc.dp.accountant import ZCDP, Accountant, ApproxDP, PureDP, SampledGaussian
from mpc.dp.dpsgd import DPSGD
from mpc.errors import PrivacyBudgetExceeded

__all__ = ["Accountant", "ApproxDP", "DPSGD", "PrivacyBudgetExceeded", "PureDP", "SampledGaussian", "ZCDP"]
