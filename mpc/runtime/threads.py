"""All parties of a session as threads of this process, over in-process channels.

:func:`run_parties` calls ``main(party, *args)`` once per party, each in its own thread with its
own :class:`~mpc.runtime.party.Party` over a :class:`~mpc.net.local.LocalHub`, and returns the
results indexed by party id. If a party raises, its peers are told at once (they raise
``PeerTimeout`` naming it instead of waiting for the deadline) and the exception of the party that
failed first is re-raised; with ``return_exceptions=True`` each party's exception is returned in
its slot instead. ``argv`` (a Party option) may contain ``{pid}``, replaced by each party's id as
``mpcrun`` does.

``preprocessing="dealer"`` starts a :class:`~mpc.preprocessing.dealer.TrustedDealer` in a thread
of its own, linked to each party by a 2-party LocalHub, exactly as the dealer process is over
ZeroMQ. ``dealer_hook(dealer, links)``, if given, runs in the dealer thread instead of
``dealer.serve()`` (tests use it to make the dealer misbehave).

Used by :func:`mpc.testing.run_local` (tests, examples) and by ``mpcrun --emulate``
(:mod:`mpc.launch.emulate`, every party in one process under the cleartext engine).
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from typing import Any

from mpc.errors import PeerTimeout
from mpc.net.local import LocalHub
from mpc.preprocessing.dealer import TrustedDealer
from mpc.runtime.party import Party

__all__ = ["run_parties"]


def run_parties(
    main: Callable[..., Any],
    n: int,
    *args: Any,
    timeout: float = 30.0,
    return_exceptions: bool = False,
    **party_options: Any,
) -> list[Any]:
    """Run ``main(party, *args)`` for ``n`` parties as threads; see the module docstring."""
    session = secrets.randbits(64)
    hub = LocalHub(n, session=session, timeout=timeout)
    results: list[Any] = [None] * n
    failures: dict[int | str, tuple[float, BaseException]] = {}
    dealer_hook = party_options.pop("dealer_hook", None)
    argv = party_options.pop("argv", None)
    links: list[LocalHub] = []
    if party_options.get("preprocessing", "dealer") == "dealer":
        links = [LocalHub(2, session=session, timeout=timeout, names=("dealer", f"party {i}")) for i in range(n)]

    def dealer_body() -> None:
        ends = [h.channels()[0] for h in links]
        try:
            dealer = TrustedDealer(ends, kernels=party_options.get("kernels"), idle_timeout=timeout)
            dealer_hook(dealer, ends) if dealer_hook else dealer.serve()
        except BaseException as exc:  # noqa: BLE001 - reported to the caller below
            failures["dealer"] = (time.monotonic(), exc)
            for h in links:
                h.fail(0, type(exc).__name__)
        finally:  # a hook that returns early leaves too: the parties stop waiting for it
            for end in ends:
                end.close()

    def body(channel) -> None:
        party = None
        try:
            options = dict(party_options)
            if links:
                options["dealer"] = links[channel.pid].channels()[1]
            if argv is not None:
                options["argv"] = [str(a).replace("{pid}", str(channel.pid)) for a in argv]
            party = Party(channel, **options)
            results[channel.pid] = main(party, *args)
            party.finish()  # the engine's closing checks (spdz2k: the final MAC check)
        except BaseException as exc:  # noqa: BLE001 - reported to the caller below
            failures[channel.pid] = (time.monotonic(), exc)
            hub.fail(channel.pid, type(exc).__name__)
            if links:
                links[channel.pid].fail(1, type(exc).__name__)
        finally:  # closing the channel tells the peers this party has left, even on success
            if party is not None:
                party.close()
            else:
                channel.close()

    threads = [threading.Thread(target=body, args=(ch,), name=f"party-{ch.pid}", daemon=True) for ch in hub.channels()]
    if links:
        threads.append(threading.Thread(target=dealer_body, name="dealer", daemon=True))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if return_exceptions:
        return [failures[p][1] if p in failures else results[p] for p in range(n)]
    if set(failures) == {"dealer"}:  # the parties finished; the dealer's failure is still a failure
        raise failures["dealer"][1]
    if failures:
        # the root cause is the first failure that is not a consequence of another party's failure
        ordered = sorted(failures.items(), key=lambda kv: (isinstance(kv[1][1], PeerTimeout), kv[1][0]))
        raise ordered[0][1][1]
    return results
