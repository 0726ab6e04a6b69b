"""Differentially private histogram of the parties' joint records: which weekday each visit fell on.

    mpcrun -n 3 protocols/dp_histogram.py protocols/data/dp_visits_{pid}.txt 1.0

Each party holds a list of records (integers in [0, 7), one per line); the second argument is
epsilon. The parties learn only the 7 counts over everyone's records, each with discrete Laplace
noise sampled jointly inside MPC (no party, nor any n-1 of them together, knows the noise), so
the release is epsilon-DP for any one record replaced; the record counts per party are public.
Values outside [0, 7) count nowhere (the clipping happens inside MPC).
Steps and cost (semi2k + GMW, dealer): the record counts are opened (1 round); each party's
records are shared (agreement rounds only); a zero test per (record, category) pair builds the
one-hot matrix (7 rounds, ~32 bytes per pair per party); column sums are local; discrete Laplace
noise of scale 2/epsilon by oblivious CDF inversion (8 rounds per index bit, 11 bits at
epsilon 1); one round to reveal. The accountant refuses a second release beyond the budget.
"""

import numpy as np

import mpc
from mpc.dp import Accountant
from mpc.dp.mechanisms import noisy_histogram

CATEGORIES = 7


def joint_records(party: mpc.Party, mine: np.ndarray) -> mpc.SecretTensor:
    """Every party's records, secret-shared and concatenated (the counts are opened first)."""
    counts = party.reveal(mpc.stack(party.input(np.int64(mine.size), dtype=mpc.Int64())))
    parts = [party.input(mine if i == party.pid else None, owner=i, shape=(int(c),), dtype=mpc.Int64())
             for i, c in enumerate(counts)]
    return mpc.concatenate(parts)


def main(party: mpc.Party):
    # the run line, quoted in the error if the file argument is missing
    usage = "mpcrun -n 3 protocols/dp_histogram.py protocols/data/dp_visits_{pid}.txt [epsilon]"
    path = party.args(1, usage)[0].replace("{pid}", str(party.pid))  # mpcrun substitutes {pid} already
    epsilon = float(party.argv[1]) if len(party.argv) > 1 else 1.0
    records = joint_records(party, np.loadtxt(path, dtype=np.int64, ndmin=1))
    budget = Accountant(epsilon=epsilon)  # each party keeps its own; all charge the same queries
    hist = noisy_histogram(party, records, bins=CATEGORIES, epsilon=epsilon, accountant=budget)
    print(f"party {party.pid}: dp histogram = {hist.tolist()} (epsilon = {budget.spent()[0]:g})")
    return hist


if __name__ == "__main__":
    mpc.run(main, engine="semi2k", preprocessing="dealer")
