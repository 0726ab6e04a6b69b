"""Federated averaging with secure aggregation and distributed differential privacy.

    mpcrun -n 3 protocols/fedavg_dp.py protocols/data/update_{pid}.txt 1.0 1 10

Each party (a client) holds one model update (a vector, one number per line). It clips the
update to L2 norm at most C = 1 locally (its own data), shares it, and adds its part of the
noise: a discrete Gaussian sampled locally (:func:`mpc.dp.noise.distributed_discrete_gaussian`).
Only the noisy sum is revealed (secure aggregation: Bonawitz et al., CCS 2017, here by additive
sharing), and divided by the number of clients. Arguments: rho (the zCDP parameter of this
round, default 1.0), h, the number of clients assumed honest (default 1), and the epsilon budget
at delta = 1e-5 that the training's rounds share (default 10; a round beyond it is refused).

Guarantee: rho-zCDP for any one client's update replaced (L2 sensitivity 2C), PROVIDED at least
h clients are honest: each client knows its own noise, so a coalition of the others could
subtract theirs; the h honest clients' noise alone carries the guarantee (with h = 1 every
client adds the full noise: secure against n-1 colluders at n times the variance; the
distributed discrete Gaussian of Kairouz, Liu and Steinke, ICML 2021). The epsilon printed is
at delta = 1e-5.
Cost (semi2k): the noise costs one input agreement round; the sum is local; truncation to the
grid (1 round); one round to reveal. No boolean circuit at all.
"""

import numpy as np

import mpc
from mpc.dp import Accountant
from mpc.dp.mechanisms import gaussian_mechanism

CLIP = 1.0  # L2 norm bound of one client's update


def clip_l2(update: np.ndarray, bound: float) -> np.ndarray:
    norm = float(np.linalg.norm(update))
    return update if norm <= bound else update * (bound / norm)


def main(party: mpc.Party):
    # the run line, quoted in the error if the file argument is missing
    usage = "mpcrun -n 3 protocols/fedavg_dp.py protocols/data/update_{pid}.txt [rho] [honest] [epsilon]"
    path = party.args(1, usage)[0].replace("{pid}", str(party.pid))  # mpcrun substitutes {pid} already
    rho = float(party.argv[1]) if len(party.argv) > 1 else 1.0
    honest = int(party.argv[2]) if len(party.argv) > 2 else 1
    budget = Accountant(epsilon=float(party.argv[3]) if len(party.argv) > 3 else 10.0, delta=1e-5)
    update = clip_l2(np.loadtxt(path, dtype=np.float64, ndmin=1), CLIP)  # local: the client's own data
    total = mpc.stack(party.input(update)).sum(axis=0)  # secure aggregation: only the sum is computed
    noisy = gaussian_mechanism(party, total, sensitivity=2 * CLIP, rho=rho, accountant=budget,
                               noise_kind="distributed", honest_parties=honest)
    avg = noisy / party.n
    print(f"party {party.pid}: dp average update = {np.array2string(avg, precision=3)} "
          f"(rho = {rho:g}, epsilon = {budget.spent()[0]:.3g} at delta = 1e-5, {honest} honest client(s) assumed)")
    return avg


if __name__ == "__main__":
    mpc.run(main, engine="semi2k", preprocessing="dealer")
