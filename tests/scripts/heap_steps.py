"""The same large step, repeated: does the party's heap stay with it between steps? (a test script)

    mpcrun -n N --engine spdz2k tests/scripts/heap_steps.py SIZE STEPS

Each step compares two secret vectors of SIZE elements (public test data from a fixed seed, not
secrets) after preprocessing that step's material and reveals one element of the result, as a
training loop reveals its loss. Each party prints whether the revealed elements match NumPy and
its resident memory (MB) after every step: with ``--malloc tuned`` it rises over the first steps
and then stays, since the heap keeps what a step freed for the next; a heap that is handed back
to the kernel (trimmed) shows as a drop and a climb again.
"""

import numpy as np

import mpc


def resident_mb() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * 4096 >> 20


def main(party) -> None:
    size, steps = int(party.argv[0]), int(party.argv[1])
    data = np.random.default_rng(11)  # public test inputs, the same on every party
    xs, ys = data.uniform(-1000, 1000, size), data.uniform(-1000, 1000, size)
    x = party.input(xs if party.pid == 0 else None, owner=0, shape=(size,))
    y = party.input(ys if party.pid == party.n - 1 else None, owner=party.n - 1, shape=(size,))
    with party.recording() as plan:
        _ = x < y  # the step, recorded (its material planned), not run
    rss, ok = [], True
    for step in range(steps):
        party.preprocess(plan)
        lt = x < y
        # one element revealed per step, as a training loop reveals its loss: under spdz2k the
        # reveal runs the MAC check, which frees the step's recorded openings
        ok &= bool(party.reveal(lt[step]) == float(xs[step] < ys[step]))
        rss.append(resident_mb())
    print(f"party {party.pid}: ok={ok} rss_mb={','.join(map(str, rss))}", flush=True)


if __name__ == "__main__":
    mpc.run(main)
