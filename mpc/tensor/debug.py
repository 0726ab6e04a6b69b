"""Reading secret values while debugging: ``x.debug_value()`` / ``mpc.debug_value(x)``.

Under the cleartext debug engine (:mod:`mpc.engines.cleartext`) every party holds every value,
so a SecretTensor or SecretBits can be decoded at any party, at any point of the protocol, with
no communication and no effect on the transcript or the counters: print statements work.
Under a real engine a value can only be learnt by revealing it (``party.reveal``, which every
party must call), so ``debug_value`` refuses with a ConfigError instead of opening anything.
"""

from __future__ import annotations

import numpy as np

from mpc.engines.cleartext import Cleartext
from mpc.engines.cleartext_bits import CleartextBits
from mpc.errors import ConfigError, ShareTypeError
from mpc.tensor.encoding import decode
from mpc.tensor.secret_bits import SecretBits

__all__ = ["debug_value"]


def _refuse(engine: object) -> ConfigError:
    return ConfigError(f"debug_value: only under engine='cleartext' (mpcrun --emulate, or run_local(..., "
                       f"engine='cleartext')); under the {getattr(engine, 'name', '?')} engine reveal it with "
                       "party.reveal(...), which every party must call")


def debug_value(x: object) -> object:
    """The plaintext of a SecretTensor (as ``party.reveal`` would decode it: float64 for Fixed,
    int64 for Int64, a NumPy scalar for 0-d) or of a SecretBits (a uint64 array of its n values),
    under the cleartext engine only. Local: no message, no counter changes."""
    if isinstance(x, SecretBits):
        if not isinstance(x.engine, CleartextBits):
            raise _refuse(x.engine)
        return x.engine.k.unbitslice(x.planes, x.n) if x.n else np.zeros(0, dtype=np.uint64)
    engine = getattr(x, "engine", None)
    if engine is None or not hasattr(x, "share"):
        raise ShareTypeError(f"debug_value: expected a SecretTensor or SecretBits, got {type(x).__name__}")
    if not isinstance(engine, Cleartext):
        raise _refuse(engine)
    out = decode(engine.value(x.share), x.dtype, x.scale)
    return out[()] if out.ndim == 0 else out
