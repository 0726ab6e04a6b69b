"""Run all parties of a protocol as threads of this process (over LocalChannel).

``run_local(main, n)`` calls ``main(party, *args)`` once per party, each in its own thread with
its own :class:`~mpc.runtime.Party`, and returns the list of results indexed by party id. If a
party raises, its peers are told at once (they raise ``PeerTimeout`` naming it instead of
waiting for the deadline) and the exception of the party that failed first is re-raised; with
``return_exceptions=True`` each party's exception is returned in its slot instead. A party that
returns while the others still expect messages from it is reported the same way (its channel
is closed when it returns: :mod:`mpc.net.local`), as is a dealer that fails or stops.

Preprocessing: ``preprocessing="local"`` (the default here) uses the insecure in-process dealer;
``preprocessing="dealer"`` starts a :class:`~mpc.preprocessing.dealer.TrustedDealer` in a thread
of its own, linked to each party by a 2-party LocalHub, exactly as the dealer process is over
ZeroMQ. ``dealer_hook(dealer, links)``, if given, runs in the dealer thread instead of
``dealer.serve()`` (tests use it to make the dealer misbehave).

``engine="cleartext"`` runs the protocol on the debug engine (:mod:`mpc.engines.cleartext`):
same results as semi2k, values readable with ``x.debug_value()``, overflow reported, and the
costs semi2k would pay in ``party.stats()``. The threads are :func:`mpc.runtime.threads.
run_parties`, which ``mpcrun --emulate`` uses too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mpc.runtime.threads import run_parties


def run_local(
    main: Callable[..., Any],
    n: int = 2,
    *args: Any,
    timeout: float = 30.0,
    return_exceptions: bool = False,
    **party_options: Any,
) -> list[Any]:
    """Run ``main(party, *args)`` for ``n`` parties as threads; see the module docstring."""
    party_options.setdefault("preprocessing", "local")
    return run_parties(main, n, *args, timeout=timeout, return_exceptions=return_exceptions, **party_options)
