"""Secure aggregation for federated learning: the average of the parties' model updates.

    mpcrun -n 3 protocols/fedavg.py protocols/data/update_{pid}.txt

Each party holds one model update (a vector of weights, one number per line) and learns only
the average update, as in the aggregation step of federated averaging (McMahan et al., 2017;
Bonawitz et al., "Practical secure aggregation", CCS 2017, which this computes with additive
sharing instead of pairwise masks). All updates must have the same length.
Cost (semi2k): the sum is local; one division round; one round to reveal.
"""

import numpy as np

import mpc


def main(party: mpc.Party):
    # the run line, quoted in the error if the file argument is missing
    usage = "mpcrun -n 3 protocols/fedavg.py protocols/data/update_{pid}.txt"
    path = party.args(1, usage)[0].replace("{pid}", str(party.pid))  # mpcrun substitutes {pid} already
    update = np.loadtxt(path, dtype=np.float64, ndmin=1)
    updates = mpc.stack(party.input(update))  # (n, d): row i is party i's update, secret-shared
    avg = party.reveal(updates.mean(axis=0))
    print(f"party {party.pid}: average update = {np.array2string(avg, precision=4)}")
    return avg


if __name__ == "__main__":
    mpc.run(main, engine="semi2k", preprocessing="dealer")
