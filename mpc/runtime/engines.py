"""The engine registry: engine name -> builder of one party's arithmetic engine.

A builder takes an :class:`~mpc.engines.base.EngineContext` (channel, preprocessing, PRGs,
kernels, the party's boolean engine) and returns an engine implementing
:class:`~mpc.engines.base.ArithmeticEngine`, with its boolean side (``engine.converter``). The
runtime never names an engine class: a new sharing registers a builder here, and Party, the dry
run and the launcher pick it up by name. ``"gmw"`` has no arithmetic engine (boolean only).
"""

from __future__ import annotations

from collections.abc import Callable

from mpc.engines import cleartext, masked2k, semi2k, spdz2k
from mpc.engines.base import ArithmeticEngine, EngineContext
from mpc.errors import ConfigError

Builder = Callable[[EngineContext], ArithmeticEngine]

BUILDERS: dict[str, Builder] = {
    "semi2k": semi2k.build,
    "spdz2k": spdz2k.build,
    "masked2k": masked2k.build,
    "cleartext": cleartext.build,  # debugging only: no security (mpc.engines.cleartext)
}
BOOLEAN_ONLY = ("gmw",)
PLANNED: tuple[str, ...] = ()  # accepted names that are not built yet
ENGINES = tuple(BUILDERS) + BOOLEAN_ONLY + PLANNED


def check_engine(name: object) -> str:
    """The engine name, validated before any communication (ConfigError naming the choices)."""
    if name not in ENGINES:
        raise ConfigError(f"engine: expected one of {', '.join(ENGINES)}, got {name!r}")
    if name in PLANNED:
        implemented = ", ".join((*BUILDERS, *BOOLEAN_ONLY))
        raise ConfigError(f"engine: {name!r} is not implemented yet (available: {implemented})")
    return str(name)


def build_arithmetic(name: str, ctx: EngineContext) -> ArithmeticEngine | None:
    """The arithmetic engine ``name`` for one party (None for a boolean-only engine)."""
    return BUILDERS[name](ctx) if name in BUILDERS else None
