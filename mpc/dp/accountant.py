"""The privacy accountant: what every mechanism of :mod:`mpc.dp` charges before it runs.

An :class:`Accountant` holds a budget (epsilon, delta) and the events charged so far. A charge
that would take the composed guarantee past the budget raises
:class:`~mpc.errors.PrivacyBudgetExceeded` and is not recorded; mechanisms charge first, so an
over-budget query draws no noise, sends nothing and reveals nothing.

Events (frozen dataclasses; ``count`` repeats of one event are stored once):
- :class:`PureDP` (epsilon): the Laplace mechanism, report-noisy-max, the exponential mechanism.
- :class:`ApproxDP` (epsilon, delta): any (epsilon, delta)-DP mechanism.
- :class:`ZCDP` (rho): the Gaussian and discrete Gaussian mechanisms of L2 sensitivity Delta and
  noise sigma are (Delta^2 / (2 sigma^2))-zCDP (Bun and Steinke, TCC 2016; Canonne, Kamath and
  Steinke, NeurIPS 2020, for the discrete one).
- :class:`SampledGaussian` (q, noise_multiplier): one step of DP-SGD with Poisson sampling rate
  q (Mironov, Talwar and Zhang 2019; :mod:`mpc.dp.rdp`).

Composition (``method``): each gives a valid epsilon at the budget's delta; ``"best"`` (the
default) takes the smallest of those that apply, which is valid as well.
- ``"basic"``: epsilons and deltas add (Dwork, McSherry, Nissim and Smith, TCC 2006). Pure and
  approximate DP events only.
- ``"advanced"``: sqrt(2 ln(1/delta') sum eps_i^2) + sum eps_i (e^eps_i - 1), with total delta
  sum delta_i + delta' (Dwork, Rothblum and Vadhan, FOCS 2010, in the heterogeneous form of
  Kairouz, Oh and Viswanath, ICML 2015). Pure and approximate DP events only.
- ``"zcdp"``: rho adds; pure epsilon-DP counts as epsilon^2/2, an (epsilon, delta) event as
  delta-approximate epsilon^2/2-zCDP; epsilon = rho + 2 sqrt(rho ln(1/delta')) (Bun and Steinke,
  Propositions 1.3, 1.4 and 1.13). No sampled-Gaussian events.
- ``"rdp"``: the RDP curves add order by order (Mironov, CSF 2017); converted at the best order
  (:func:`mpc.dp.rdp.to_epsilon`). Approximate events add their delta, as in the zCDP case.
delta' is the budget's delta minus the approximate events' deltas.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass

from mpc.dp import rdp
from mpc.errors import ConfigError, PrivacyBudgetExceeded

__all__ = ["Accountant", "ApproxDP", "PureDP", "SampledGaussian", "ZCDP", "METHODS"]

METHODS = ("best", "basic", "advanced", "zcdp", "rdp")


def _finite(value: object, name: str, lo: float = 0.0, hi: float = math.inf, closed_lo: bool = True) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) and not hasattr(value, "__float__"):
        raise ConfigError(f"{name}: expected a number, got {value!r}")
    v = float(value)
    if not math.isfinite(v) or v < lo or (v == lo and not closed_lo) or v > hi:
        raise ConfigError(f"{name}: expected a finite number in {'[' if closed_lo else '('}{lo}, {hi}], got {value!r}")
    return v


@dataclass(frozen=True)
class PureDP:
    epsilon: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "epsilon", _finite(self.epsilon, "epsilon"))


@dataclass(frozen=True)
class ApproxDP:
    epsilon: float
    delta: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "epsilon", _finite(self.epsilon, "epsilon"))
        object.__setattr__(self, "delta", _finite(self.delta, "delta", hi=1.0))


@dataclass(frozen=True)
class ZCDP:
    rho: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "rho", _finite(self.rho, "rho"))


@dataclass(frozen=True)
class SampledGaussian:
    q: float
    noise_multiplier: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "q", _finite(self.q, "q", hi=1.0))
        object.__setattr__(self, "noise_multiplier",
                           _finite(self.noise_multiplier, "noise_multiplier", closed_lo=False))


Event = PureDP | ApproxDP | ZCDP | SampledGaussian


def _eps_delta(ev: Event) -> tuple[float, float] | None:
    if isinstance(ev, PureDP):
        return ev.epsilon, 0.0
    if isinstance(ev, ApproxDP):
        return ev.epsilon, ev.delta
    return None


def _basic(events: dict, delta: float) -> float:
    eps, dl = 0.0, 0.0
    for ev, c in events.items():
        ed = _eps_delta(ev)
        if ed is None:
            return math.inf
        eps, dl = eps + c * ed[0], dl + c * ed[1]
    return eps if dl <= delta * (1 + 1e-12) else math.inf


def _slack(events: dict, delta: float) -> float:
    """delta' = the budget's delta minus the deltas the approximate events spend."""
    return delta - sum(c * ev.delta for ev, c in events.items() if isinstance(ev, ApproxDP))


def _advanced(events: dict, delta: float) -> float:
    d = _slack(events, delta)
    if d <= 0 or any(_eps_delta(ev) is None for ev in events):
        return math.inf
    if any(ev.epsilon > 50 for ev in events):  # e^eps overflows; advanced composition is useless there
        return math.inf
    sq = sum(c * ev.epsilon**2 for ev, c in events.items())
    lin = sum(c * ev.epsilon * math.expm1(ev.epsilon) for ev, c in events.items())
    return math.sqrt(2 * math.log(1 / d) * sq) + lin


def _zcdp(events: dict, delta: float) -> float:
    d = _slack(events, delta)
    rho = 0.0
    for ev, c in events.items():
        if isinstance(ev, SampledGaussian):
            return math.inf
        rho += c * (ev.rho if isinstance(ev, ZCDP) else ev.epsilon**2 / 2)
    if rho == 0:
        return 0.0
    return math.inf if d <= 0 else rho + 2 * math.sqrt(rho * math.log(1 / d))


def _curve(ev: Event, orders: Sequence[float]) -> list[float]:
    if isinstance(ev, SampledGaussian):
        return rdp.sampled_gaussian(ev.q, ev.noise_multiplier, orders)
    if isinstance(ev, ZCDP):
        return rdp.zcdp(ev.rho, orders)
    return rdp.pure(ev.epsilon, orders)


class Accountant:
    """A privacy budget (epsilon, delta) and the events charged against it (see the module).

    ``acct = Accountant(epsilon=1.0, delta=1e-6)``; mechanisms call :meth:`charge`. Thread-safe
    (the parties of ``run_local`` may share one accountant object only if they agree to: each
    party normally holds its own, and all parties charge the same events in the same order, so
    all of them refuse the same query).
    """

    def __init__(self, epsilon: float, delta: float = 0.0, *, method: str = "best",
                 orders: Sequence[float] = rdp.DEFAULT_ORDERS) -> None:
        self.epsilon = _finite(epsilon, "epsilon")
        self.delta = _finite(delta, "delta", hi=1.0)
        if method not in METHODS:
            raise ConfigError(f"method: expected one of {', '.join(METHODS)}, got {method!r}")
        self.method = method
        self.orders = tuple(float(a) for a in orders)
        if not self.orders or any(not a > 1 for a in self.orders):
            raise ConfigError("orders: expected RDP orders > 1")
        self._events: dict[Event, int] = {}
        self._rdp = [0.0] * len(self.orders)
        self._curves: dict[Event, list[float]] = {}  # DP-SGD charges one event per step: compute its curve once
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        eps, delta = self.spent()
        return (f"Accountant(budget=({self.epsilon:g}, {self.delta:g}), spent=({eps:.4g}, {delta:.3g}), "
                f"method={self.method!r}, events={sum(self._events.values())})")

    # ------------------------------------------------------------------ composition

    def _epsilon(self, events: dict, curve: list[float]) -> float:
        ways = {
            "basic": lambda: _basic(events, self.delta),
            "advanced": lambda: _advanced(events, self.delta),
            "zcdp": lambda: _zcdp(events, self.delta),
            "rdp": lambda: self._rdp_eps(events, curve),
        }
        if self.method != "best":
            return ways[self.method]()
        return min(way() for way in ways.values())

    def _rdp_eps(self, events: dict, curve: list[float]) -> float:
        d = _slack(events, self.delta)
        if not events or all(r == 0 for r in curve):
            return 0.0
        return rdp.to_epsilon(curve, d, self.orders)[0] if d > 0 else math.inf

    def _with(self, event: Event, count: int) -> tuple[dict, list[float]]:
        events = dict(self._events)
        events[event] = events.get(event, 0) + count
        add = self._curves.get(event)
        if add is None:
            add = self._curves[event] = _curve(event, self.orders)
        return events, [r + count * a for r, a in zip(self._rdp, add, strict=True)]

    # ------------------------------------------------------------------ public API

    def epsilon_if(self, event: Event, count: int = 1) -> float:
        """The epsilon (at the budget's delta) spent after charging ``event`` ``count`` times."""
        _check_event(event, count)
        with self._lock:
            return self._epsilon(*self._with(event, count))

    def charge(self, event: Event, count: int = 1) -> None:
        """Record ``event`` (``count`` times), or raise PrivacyBudgetExceeded and record nothing."""
        _check_event(event, count)
        with self._lock:
            events, curve = self._with(event, count)
            eps = self._epsilon(events, curve)
            if eps > self.epsilon * (1 + 1e-12):
                raise PrivacyBudgetExceeded(
                    f"{type(event).__name__} x{count} would spend epsilon = {eps:.4g} at delta = {self.delta:g} "
                    f"({self.method} composition), over the budget epsilon = {self.epsilon:g}")
            self._events, self._rdp = events, curve

    def spent(self) -> tuple[float, float]:
        """(epsilon, delta) spent so far: epsilon at the budget's delta (0 when nothing was charged)."""
        with self._lock:
            if not self._events:
                return 0.0, 0.0
            return self._epsilon(self._events, self._rdp), self.delta

    def remaining(self) -> float:
        """Epsilon still available under the budget (at its delta)."""
        return max(self.epsilon - self.spent()[0], 0.0)

    def epsilon_at(self, delta: float) -> float:
        """The RDP epsilon of everything charged so far at another ``delta`` (reporting)."""
        d = _finite(delta, "delta", hi=1.0)
        with self._lock:
            spent = d - sum(c * ev.delta for ev, c in self._events.items() if isinstance(ev, ApproxDP))
            return rdp.to_epsilon(self._rdp, spent, self.orders)[0] if spent > 0 else math.inf

    @property
    def events(self) -> dict:
        """The events charged so far and their counts (a copy)."""
        with self._lock:
            return dict(self._events)


def _check_event(event: object, count: object) -> None:
    if not isinstance(event, (PureDP, ApproxDP, ZCDP, SampledGaussian)):
        raise ConfigError(f"event: expected PureDP, ApproxDP, ZCDP or SampledGaussian, got {type(event).__name__}")
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ConfigError(f"count: expected a positive integer, got {count!r}")
