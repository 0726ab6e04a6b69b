"""The Tessera exception hierarchy.

Every error the framework raises on purpose is an :class:`MPCError`. Messages name the argument
and the offending sizes, and never contain a share, a mask, a seed or any other secret.
"""

from __future__ import annotations

__all__ = [
    "MPCError",
    "ConfigError",
    "ShareTypeError",
    "InputError",
    "ProtocolError",
    "CheatingDetected",
    "PeerTimeout",
    "PreprocessingExhausted",
    "KernelError",
    "RangeError",
    "RangeWarning",
    "PrivacyBudgetExceeded",
]


class MPCError(Exception):
    """Base class of every error Tessera raises on purpose."""


class ConfigError(MPCError, ValueError):
    """Invalid configuration: hosts file, environment variables, CLI flags, engine options."""


class ShareTypeError(MPCError, TypeError):
    """Operands that cannot be combined: different parties, engines, dtypes or share kinds; and
    a value of a type an operation does not take (a string as an input value, a secret as an
    index or a divisor, a SecretTensor where a public array or a truth value is needed). A
    ``TypeError`` as Python would raise, and an expected error for the launcher."""


class InputError(MPCError, ValueError):
    """A value, shape or argument the user passed is not valid: shapes that do not broadcast or
    align, an axis out of range, a value outside its encoding's range, parties disagreeing on an
    input. Raised before anything is sent; a ``ValueError`` as NumPy would raise, and an expected
    error for the launcher (one line naming the argument, not a crash)."""


class ProtocolError(MPCError):
    """A malformed, unexpected or out-of-order message: the run is desynchronised."""


class CheatingDetected(ProtocolError):
    """A MAC or consistency check failed: some party deviated. No further output is released."""


class PeerTimeout(MPCError):
    """A peer did not answer within the deadline (dead, silent or unreachable).

    ``peer`` is the party id that was waited for (``None`` when unknown, e.g. the dealer).
    """

    def __init__(self, message: str, peer: int | str | None = None) -> None:
        super().__init__(message)
        self.peer = peer


class PreprocessingExhausted(MPCError):
    """The preprocessing source has no more material of the requested kind."""


class KernelError(MPCError, ValueError):
    """A compiled kernel was called with wrong shapes, dtypes or arguments."""


class RangeError(MPCError, ArithmeticError):
    """A value is outside the range its encoding or protocol is exact in (see :mod:`mpc.dtypes`).

    Raised on every party by the secure range check (``mpc.check_range``: one opened bit says that
    some element is out of range, never which one), and by the cleartext debug engine under
    ``overflow="raise"``. An ``ArithmeticError``, like Python's own ``OverflowError``.
    """


class RangeWarning(UserWarning):
    """The cleartext debug engine's report of a value leaving the range (its default policy).

    A warnings filter turns it into an error: ``warnings.simplefilter("error", RangeWarning)``.
    """


class PrivacyBudgetExceeded(MPCError):
    """A differentially private query would exceed the privacy budget of its accountant.

    Raised by :mod:`mpc.dp` before any noise is drawn, anything is communicated or revealed.
    """
