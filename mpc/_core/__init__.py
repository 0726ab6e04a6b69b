"""Compiled kernels and their NumPy reference, behind one switch.

``get_kernels()`` returns a namespace with every kernel of :data:`mpc._core._ref.KERNELS`:
- ``"c"``: the compiled extensions (``_ring``, ``_matmul``, ``_bits``, ``_gf2k``, ``_ot``, ``_spdz``);
  missing ones raise;
- ``"ref"``: the NumPy reference (slow, always there);
- ``"auto"`` (default): compiled when built, else the reference.
The choice comes from the argument, else the ``MPC_KERNELS`` environment variable, read when
called (never at import). Engines fetch their kernels once, at construction.
"""

from __future__ import annotations

import functools
import importlib
import os
import types

from mpc._core import _ref
from mpc.errors import ConfigError, KernelError

_COMPILED = ("mpc._core._ring", "mpc._core._matmul", "mpc._core._bits", "mpc._core._gf2k", "mpc._core._ot",
             "mpc._core._spdz")
BACKENDS = ("c", "ref", "auto")


def get_kernels(name: str | None = None) -> types.SimpleNamespace:
    """Return the kernel namespace for backend ``name`` (or ``$MPC_KERNELS``, default ``auto``)."""
    choice = (name or os.environ.get("MPC_KERNELS") or "auto").lower()
    if choice not in BACKENDS:
        raise ConfigError(f"MPC_KERNELS must be one of {', '.join(BACKENDS)}, got {choice!r}")
    return _load(choice)


@functools.cache
def _load(choice: str) -> types.SimpleNamespace:
    if choice == "ref":
        return _namespace("ref", [_ref])
    try:
        modules = [importlib.import_module(m) for m in _COMPILED]
    except ImportError as exc:
        if choice == "c":
            raise KernelError(
                f"compiled kernels are not built ({exc}); run `make build` or set MPC_KERNELS=ref"
            ) from None
        return _namespace("ref", [_ref])
    return _namespace("c", modules)


def _namespace(backend: str, modules: list[types.ModuleType]) -> types.SimpleNamespace:
    table = {}
    for name in _ref.KERNELS:
        owner = next((m for m in modules if hasattr(m, name)), None)
        if owner is None:
            raise KernelError(f"kernel {name!r} is missing from the {backend} backend")
        table[name] = getattr(owner, name)
    return types.SimpleNamespace(backend=backend, **table)
