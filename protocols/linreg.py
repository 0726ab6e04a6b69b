"""Private linear regression by gradient descent over horizontally partitioned data.

    mpcrun -n 3 protocols/linreg.py protocols/data/regression_{pid}.csv

Each party holds rows (x_1..x_d, y) of a CSV file with a header line (every party the same
number of rows). The parties fit y ~ x @ w + b on the union of their rows by full-batch
gradient descent on the mean squared error, and learn only the fitted coefficients:

1. share the rows; X = [rows, 1] (n*m, d+1) and y stay secret-shared;
2. repeat ITERATIONS times: r = X @ w - y;  w = w - (lr / N) * X^T @ r;
3. reveal w.

Cost (semi2k) per iteration: 4 rounds (X @ w, truncation of r, X^T @ r, truncation before the
public step size), (n-1)(N(d+1) + ...) ring elements per matrix product; the matrix triples
come from the dealer. Fixed(16) arithmetic: each truncation errs by at most 2^-16.
"""

import numpy as np

import mpc

ITERATIONS = 40
LEARNING_RATE = 0.2


def load(party: mpc.Party) -> np.ndarray:
    # the run line, quoted in the error if the file argument is missing
    usage = "mpcrun -n 3 protocols/linreg.py protocols/data/regression_{pid}.csv"
    path = party.args(1, usage)[0].replace("{pid}", str(party.pid))  # mpcrun substitutes {pid} already
    return np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)


def gradient_descent(x, y, iterations: int = ITERATIONS, lr: float = LEARNING_RATE):
    """The same steps on plaintext NumPy arrays or on SecretTensors (the code is identical)."""
    n_rows, d = x.shape
    w = np.zeros(d)
    step = lr / n_rows
    for _ in range(iterations):
        r = x @ w - y
        w = w - (x.T @ r) * step
    return w


def main(party: mpc.Party):
    rows = load(party)
    parts = party.input(rows)  # one (m, d+1) block per party, secret-shared
    data = mpc.concatenate(parts, axis=0)  # (n*m, d+1)
    ones = np.ones((data.shape[0], 1))
    x = mpc.concatenate([data[:, :-1], ones], axis=1)  # intercept column: a public constant
    y = data[:, -1]
    w = party.reveal(gradient_descent(x, y))
    print(f"party {party.pid}: w = {np.array2string(w[:-1], precision=4)}, b = {w[-1]:.4f}")
    return w


if __name__ == "__main__":
    mpc.run(main, engine="semi2k", preprocessing="dealer")
