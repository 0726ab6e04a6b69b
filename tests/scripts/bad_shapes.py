"""A script that adds tensors of shapes (3,) and (4,): a user error (a launcher test script).

    mpcrun -n 2 tests/scripts/bad_shapes.py
"""

import numpy as np

import mpc


def main(party: mpc.Party) -> None:
    x = party.input(np.ones(3) if party.pid == 0 else None, owner=0, shape=(3,))
    y = party.input(np.ones(4) if party.pid == 1 else None, owner=1, shape=(4,))
    print(party.reveal(x + y))


if __name__ == "__main__":
    mpc.run(main, engine="semi2k", preprocessing="dealer")
