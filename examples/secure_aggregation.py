"""Secure aggregation for federated learning: only the mean of the parties' model updates is revealed.

    mpcrun -n 3 examples/secure_aggregation.py examples/data/update_{pid}.txt
    mpcrun -n 3 examples/secure_aggregation.py examples/data/update_{pid}.txt 0.5   # clip to [-0.5, 0.5]

In federated learning each client trains on its own data and sends a model update; the
server averages the updates (federated averaging: McMahan et al., "Communication-efficient
learning of deep networks from decentralized data", AISTATS 2017). An update can leak the
client's data, so secure aggregation computes the average without showing any single update
(Bonawitz et al., "Practical secure aggregation for privacy-preserving machine learning", CCS
2017, does it with pairwise masks; here the parties secret-share their updates). Each party
holds one update vector (one number per line of its file; every party's the same length) and
learns only the mean update.

Optional clipping (second argument c): every coordinate of every update is clipped to
[-c, c] inside the secure computation, before the sum. A party cannot skip the clipping or
send an oversized update that dominates the mean: whatever it inputs, its influence on each
coordinate of the sum is at most c. (Bounding each contribution is also the first step of
differentially private federated averaging, which then adds noise to the sum.)

Cost (semi2k, n parties, d coordinates): the sum is local; the division by n is one round; the
reveal one round. Clipping adds one comparison circuit and one product round for all n * d
coordinates at once (8 rounds with 2 parties), with AND triples and daBits from the dealer.
"""

import numpy as np

import mpc


def main(party: mpc.Party):
    # the run line, quoted in the error if the file argument is missing
    usage = "mpcrun -n 3 examples/secure_aggregation.py examples/data/update_{pid}.txt [clip]"
    path = party.args(1, usage)[0].replace("{pid}", str(party.pid))  # mpcrun substitutes {pid} already
    update = np.loadtxt(path, dtype=np.float64, ndmin=1)  # this party's private model update
    clip = float(party.argv[1]) if len(party.argv) > 1 else None  # public: every party passes the same

    # Every party shares its own update (the all-parties form of party.input): a list with one
    # SecretTensor per party, stacked into shape (n, d). A party whose update has another length
    # makes every party fail here with a clear error, before any share is used.
    updates = mpc.stack(party.input(update))
    if clip is not None:
        updates = updates.clip(-clip, clip)  # coordinate-wise, on secret values
    mean = updates.sum(axis=0) / party.n  # still secret: no single update is ever opened
    avg = party.reveal(mean)  # the only value anyone learns

    print(f"party {party.pid}: mean update = {np.array2string(avg, precision=4)}")
    return avg


if __name__ == "__main__":
    mpc.run(main, engine="semi2k", preprocessing="dealer")
