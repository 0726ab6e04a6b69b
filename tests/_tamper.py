"""Helpers shared by the spdz2k tests (online and offline): a 128-bit offset added to one element
of an authenticated array, a one-shot patch of a method's input, and the reconstruction of
authenticated material with its MACs checked."""

from __future__ import annotations

import secrets

import numpy as np

from mpc.sharing.authenticated import pairs

M64 = (1 << 64) - 1
M128 = 1 << 128


def ints(w: np.ndarray) -> np.ndarray:
    """(..., 2) uint64 words -> Python ints (object array)."""
    w = np.asarray(w, dtype=np.uint64).astype(object)
    return w[..., 0] + (w[..., 1] << 64)


def opened(results, get, alpha):
    """The reconstructed value of an AUTH component, after checking its MACs element by element."""
    v = sum(ints(pairs(get(r))[..., 0, :]) for r in results) % M128
    m = sum(ints(pairs(get(r))[..., 1, :]) for r in results) % M128
    assert ((m - alpha * v) % M128 == 0).all(), "a MAC does not match its value"
    return v


def add128(words: np.ndarray, index: int, offset: int) -> None:
    """Add ``offset`` mod 2^128 to element ``index`` of a (..., 2) uint64 array, in place."""
    flat = words.reshape(-1, 2)
    if not np.shares_memory(flat, words):
        raise AssertionError("the tampered array must be changed in place")
    v = (int(flat[index, 0]) | int(flat[index, 1]) << 64) + offset
    flat[index, 0], flat[index, 1] = v & M64, (v >> 64) & M64


def add128_planar(words: np.ndarray, index: int, offset: int) -> None:
    """Add ``offset`` mod 2^128 to element ``index`` of a planar (2, N) uint64 array (low words,
    then high words: a Beaver opening's message), in place."""
    lo, hi = words.reshape(2, -1)
    if not np.shares_memory(lo, words):
        raise AssertionError("the tampered array must be changed in place")
    v = (int(lo[index]) | int(hi[index]) << 64) + offset
    lo[index], hi[index] = v & M64, (v >> 64) & M64


def one_shot(obj, name: str, change, skip: int = 0):
    """Replace ``obj.name`` so that its (skip+1)-th call passes its first argument through
    ``change`` (a copy of it); every other call goes through untouched."""
    orig = getattr(obj, name)
    calls = [0]

    def wrapper(arr, *args, **kwargs):
        calls[0] += 1
        if calls[0] == skip + 1:
            arr = np.array(arr, copy=True)
            change(arr)
        return orig(arr, *args, **kwargs)

    setattr(obj, name, wrapper)


def tamper_exchange(pre, pick, index: int | None, offset: int, times: int = 1) -> None:
    """Patch ``pre._exchange`` (an offline source's one-round broadcast) so that the first
    ``times`` arrays ``pick(arr)`` selects go out with ``offset`` added to element ``index``
    (None: a random element)."""
    orig = pre._exchange
    left = [times]

    def exchange(arr):
        if left[0] and pick(arr):
            left[0] -= 1
            arr = np.array(arr, copy=True)
            add128(arr, secrets.randbelow(arr.shape[0]) if index is None else index, offset)
        return orig(arr)

    pre._exchange = exchange


def _clean_batch(pre) -> None:
    pre.triples((4,), auth=True)


def cheat_offline(n: int, cheater: int, tamper, take, setup=_clean_batch, timeout: float = 120) -> list:
    """Run ``n`` spdz2k parties with dealer-free material: ``setup`` (the OT set-up and one clean
    batch), then ``tamper`` at the cheater only, then ``take``; every party's result or exception."""
    from mpc.testing import run_local

    def main(p):
        setup(p.preprocessing)
        if p.pid == cheater:
            tamper(p.preprocessing)
        take(p.preprocessing)
        return "no error"

    return run_local(main, n, engine="spdz2k", preprocessing="ot", return_exceptions=True, timeout=timeout)


def all_caught(res, cheater: int) -> None:
    """Every honest party raised CheatingDetected (the cheater is bound to nothing)."""
    from mpc.errors import CheatingDetected

    honest = [r for i, r in enumerate(res) if i != cheater]
    assert all(isinstance(r, CheatingDetected) for r in honest), [type(r).__name__ for r in res]
