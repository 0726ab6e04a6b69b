"""A spdz2k product whose opening party 1 may tamper with (a launcher test script).

    mpcrun -n 3 tests/scripts/spdz2k_cheat.py [--cheat]

Party 0 inputs x, party n-1 inputs y; the parties reveal x * y. With ``--cheat`` party 1 adds 1
to one element of the value shares it sends when the product's masks are opened: the MAC check
before the reveal fails, every honest party raises CheatingDetected and mpcrun exits with 4.
"""

import numpy as np

import mpc


def main(party: mpc.Party) -> None:
    x = party.input(np.arange(1.0, 5.0) if party.pid == 0 else None, owner=0, shape=(4,))
    y = party.input(np.full(4, 2.5) if party.pid == party.n - 1 else None, owner=party.n - 1, shape=(4,))
    if party.argv[:1] == ["--cheat"] and party.pid == 1:
        honest = party.channel.exchange

        def exchange(arr, tag=None):  # tamper with the next opening only
            party.channel.exchange = honest
            arr = np.array(arr, copy=True)
            arr.reshape(-1)[2] += np.uint64(1)
            return honest(arr, tag)
        party.channel.exchange = exchange
    print(f"party {party.pid}: x*y = {party.reveal(x * y)}", flush=True)


if __name__ == "__main__":
    mpc.run(main, engine="spdz2k", preprocessing="dealer")
