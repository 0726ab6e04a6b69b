"""A fixed-point product of two secret vectors large enough for the shared-memory rings (a test script).

    mpcrun -n N [--shm auto|on|sealed|off] tests/scripts/shm_product.py SIZE

Party 0 inputs x and party n-1 inputs y (public test data from a fixed seed, not secrets); the
parties compute x * y, reveal it, and each prints whether it matches NumPy and how many payloads
its channel sent through shared memory and which of its rings carry AES-GCM records.
"""

import numpy as np

import mpc


def main(party) -> None:
    size = int(party.argv[0])
    data = np.random.default_rng(7)  # public test inputs, the same on every party
    xs, ys = data.uniform(-1000, 1000, size), data.uniform(-1000, 1000, size)
    x = party.input(xs if party.pid == 0 else None, owner=0, shape=(size,))
    y = party.input(ys if party.pid == party.n - 1 else None, owner=party.n - 1, shape=(size,))
    z = party.reveal(x * y)
    scale = 2.0**16  # Fixed(16): the product of the encoded inputs is exact, so compare with that
    expected = (np.round(xs * scale) / scale) * (np.round(ys * scale) / scale)
    ok = bool(np.max(np.abs(z - expected)) < 2**-10)
    sealed = ",".join(map(str, party.channel.sealed_rings)) or "-"
    print(f"party {party.pid}: ok={ok} sealed={sealed} shm_sent={party.channel.shm_sent}", flush=True)


if __name__ == "__main__":
    mpc.run(main, engine="semi2k", preprocessing="dealer")
