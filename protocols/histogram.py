"""Private histogram: how many answers fell in each category, over all parties' private answers.

    mpcrun -n 3 protocols/histogram.py protocols/data/votes_{pid}.txt 5

Each party holds a list of answers (integers in [0, K), one per line; K is the second argument)
and learns only the total count per category, not who answered what nor any party's own
counts. Each party counts locally, shares its K counts (Int64), and the shares are summed.
Cost (semi2k): one agreement round for the inputs, local sums, one round to reveal.
"""

import numpy as np

import mpc


def main(party: mpc.Party):
    # the run line, quoted in the error if the file argument is missing
    usage = "mpcrun -n 3 protocols/histogram.py protocols/data/votes_{pid}.txt [k]"
    path = party.args(1, usage)[0].replace("{pid}", str(party.pid))  # mpcrun substitutes {pid} already
    k = int(party.argv[1]) if len(party.argv) > 1 else 5
    answers = np.loadtxt(path, dtype=np.int64, ndmin=1)
    if answers.size and (answers.min() < 0 or answers.max() >= k):
        raise ValueError(f"answers must lie in [0, {k})")
    counts = np.bincount(answers, minlength=k)  # local, private
    shared = mpc.stack(party.input(counts, dtype=mpc.Int64()))  # (n, K)
    histogram = party.reveal(shared.sum(axis=0))
    print(f"party {party.pid}: histogram = {histogram.tolist()}")
    return histogram


if __name__ == "__main__":
    mpc.run(main, engine="semi2k", preprocessing="dealer")
