"""Differentially private mean of the parties' joint records: the average age over all parties.

    mpcrun -n 3 protocols/dp_mean.py protocols/data/dp_ages_{pid}.txt 0.5

Each party holds a list of ages (one per line); the second argument is epsilon. Ages are clipped
to the public range [18, 100] inside MPC, summed, and the sum gets discrete Laplace noise
sampled jointly inside MPC on the grid 2^-g (:mod:`mpc.dp.mechanisms`), then divided by the
public record count: epsilon-DP for one record replaced. Nothing else is revealed.
Steps and cost (semi2k + GMW, dealer): the record counts are opened (1 round); records shared
(agreement rounds); clipping: one comparison circuit for both bounds and one product (8
rounds for 2 parties); the sum is local; truncation to the grid (1 round); the noise (8 rounds
per index bit); one round to reveal.
"""

import numpy as np

import mpc
from mpc.dp import Accountant
from mpc.dp.mechanisms import noisy_mean

LOWER, UPPER = 18, 100


def joint_records(party: mpc.Party, mine: np.ndarray) -> mpc.SecretTensor:
    """Every party's records, secret-shared and concatenated (the counts are opened first)."""
    counts = party.reveal(mpc.stack(party.input(np.int64(mine.size), dtype=mpc.Int64())))
    parts = [party.input(mine if i == party.pid else None, owner=i, shape=(int(c),)) for i, c in enumerate(counts)]
    return mpc.concatenate(parts)


def main(party: mpc.Party):
    # the run line, quoted in the error if the file argument is missing
    usage = "mpcrun -n 3 protocols/dp_mean.py protocols/data/dp_ages_{pid}.txt [epsilon]"
    path = party.args(1, usage)[0].replace("{pid}", str(party.pid))  # mpcrun substitutes {pid} already
    epsilon = float(party.argv[1]) if len(party.argv) > 1 else 0.5
    ages = joint_records(party, np.loadtxt(path, dtype=np.float64, ndmin=1))
    budget = Accountant(epsilon=epsilon)
    mean = noisy_mean(party, ages, lower=LOWER, upper=UPPER, epsilon=epsilon, accountant=budget)
    print(f"party {party.pid}: dp mean age = {mean:.2f} over {ages.shape[0]} records "
          f"(epsilon = {budget.spent()[0]:g})")
    return mean


if __name__ == "__main__":
    mpc.run(main, engine="semi2k", preprocessing="dealer")
