"""Workloads W1-W6 and the nonlinear functions, shared by every system in the side-by-side benchmarks.

Pure NumPy on purpose: this module is imported by the peer runners inside the peers' own virtual
environments (``bench/.peers/*``) as well as by the project's benchmark driver, so every system
gets the same inputs (same seed), the same sizes and the same plaintext reference.

=====  ====================================================  ===========================
 id     what                                                  n (the size column)
=====  ====================================================  ===========================
 W1     elementwise product of two secret Fixed vectors        number of elements
 W2     matrix product n x n @ n x n                           n (256)
 W3     comparison x < y, elementwise                          number of elements
 W4     ReLU, elementwise                                      number of elements
 W5     MLP 784-128-128-10 with ReLU, inference                batch (64)
 W6     one epoch of logistic regression by SGD, batch 64,     samples (6,400)
        100 features
=====  ====================================================  ===========================

and the nonlinear functions exp, log, reciprocal, sqrt, rsqrt, tanh of one secret vector of
10^4 elements (suite ``functions``; see ``FUNCTIONS`` below for their domains), named by the
function.

Inputs: ``x`` belongs to party 0 and ``y`` to party 1 (W5: weights from party 0, input from
party 1; W6: features from party 0, labels from party 1). Accuracy is measured against the
float64 plaintext computation on the same inputs: the maximum absolute error and the number of
results off by more than 2^-10.
"""

from __future__ import annotations

import numpy as np

SEED = 20261122
TOL = 2.0**-10  # the "off by more than 2^-10" threshold

DESCRIPTIONS = {
    "W1": "elementwise product of secret Fixed vectors",
    "W2": "matrix product n x n @ n x n",
    "W3": "comparison x < y",
    "W4": "ReLU",
    "W5": "MLP 784-128-128-10 ReLU inference (weights P0, input P1)",
    "W6": "logistic regression, one SGD epoch, batch 64, 100 features (X P0, labels P1)",
}

# The sizes every system runs. ``quick`` adds the smoke-test sizes of Tessera's bench/arith.py
# --quick (W1 10^4, W2 32) so quick runs still give ratios, keeps the full sizes (the compiled
# peers run them in seconds), and cuts W6 to 10 batches. Keep in step with bench/arith.py.
SIZES = {
    "full": {"W1": [10**5, 10**6], "W2": [256], "W3": [10**5], "W4": [10**5], "W5": [64], "W6": [6400]},
    "quick": {"W1": [10**4, 10**5, 10**6], "W2": [32, 256], "W3": [10**5], "W4": [10**5], "W5": [64],
              "W6": [640]},
}

# MPyC is pure Python and 100-1000x slower (PEERS.md): --quick runs it at small sizes, and each of
# its lines says so. Full mode runs it at the common sizes (W1 10^6 takes minutes per run).
MPYC_QUICK_SIZES = {"W1": [10**3, 10**4], "W2": [32], "W3": [10**3], "W4": [10**3], "W5": [4], "W6": [128]}

MLP_DIMS = (784, 128, 128, 10)
LOGREG_FEATURES = 100
BATCH = 64
LR = 0.5


# ---------------------------------------------------------------------------------------------
# The nonlinear functions of mpc.functions (suite ``functions``): one secret vector x from party 0,
# drawn over the accuracy domain documented in mpc/functions/ (the targets), the same for
# every system. Named by the function, not a W-number: the name is the workload id everywhere
# (Tessera's ``op``, the peers' ``workload``), so the rendered table groups the systems by it.
#
#   name        domain of x                        distribution
#   exp         [-16, 10]                          uniform
#   log         [1e-3, 1e4]                        log-uniform (every decade equally dense)
#   reciprocal  |x| in [1e-2, 1e4], both signs     log-uniform magnitude, random sign
#   sqrt        [1e-2, 1e4]                        log-uniform
#   rsqrt       [1e-2, 1e4]                        log-uniform
#   tanh        [-20, 20]                          uniform
#
# Log-uniform because these domains span 6-7 decades: a uniform draw would put 90% of the values in
# the top decade and never test the small inputs, where fixed point loses its relative precision.
# Every value is rounded to a multiple of 2^-16 (inside the domain), so each system's 16-bit fixed
# point encodes it exactly and the error measured is the function's, not the input encoding's.
# Accuracy: the max absolute error and, what matters for these functions, the max relative error
# |result - f(x)| / |f(x)| (over f(x) != 0; see :func:`score`).
FUNCTIONS = {
    "exp": ("uniform", -16.0, 10.0),
    "log": ("log-uniform", 1e-3, 1e4),
    "reciprocal": ("log-uniform, both signs", 1e-2, 1e4),
    "sqrt": ("log-uniform", 1e-2, 1e4),
    "rsqrt": ("log-uniform", 1e-2, 1e4),
    "tanh": ("uniform", -20.0, 20.0),
}
FUNCTION_NAMES = tuple(FUNCTIONS)
FUNCTION_SIZES = {"full": [10**4], "quick": [100, 10**4]}  # quick: Tessera's --quick size too
MPYC_QUICK_SIZES.update({name: [100] for name in FUNCTIONS})  # MPyC's sqrt: a comparison per bit
FRAC_BITS = 16  # the inputs' grid: 2^-16, the fractional bits of every system's fixed point
_FUNCTION_REFS = {
    "exp": np.exp,
    "log": np.log,
    "reciprocal": lambda a: 1.0 / a,
    "sqrt": np.sqrt,
    "rsqrt": lambda a: 1.0 / np.sqrt(a),
    "tanh": np.tanh,
}
DESCRIPTIONS.update({name: f"{name}(x) of a secret vector, x {kind} on [{lo:g}, {hi:g}]"
                     for name, (kind, lo, hi) in FUNCTIONS.items()})


def canonical(workload: str) -> str:
    """The workload id as the other functions expect it: W-numbers upper case, names lower case."""
    w = workload.strip()
    return w.lower() if w.lower() in FUNCTIONS else w.upper()


def function_inputs(name: str, n: int) -> np.ndarray:
    """The n inputs of function ``name``: deterministic from SEED, on the 2^-16 grid, in its domain."""
    kind, lo, hi = FUNCTIONS[name]
    rng = np.random.default_rng([SEED, 100 + FUNCTION_NAMES.index(name), int(n)])
    unit = 2.0**FRAC_BITS
    if kind == "uniform":
        x = rng.uniform(lo, hi, n)
    else:
        x = np.exp(rng.uniform(np.log(lo), np.log(hi), n))
    # ceil/floor the bounds so that rounding never leaves the domain (e.g. 1e-3 is 65.5 units)
    k = np.clip(np.round(x * unit), np.ceil(lo * unit), np.floor(hi * unit))
    if "both signs" in kind:
        k = k * rng.choice([-1.0, 1.0], n)
    return k / unit


def function_reference(name: str, x: np.ndarray) -> np.ndarray:
    return _FUNCTION_REFS[name](np.asarray(x, dtype=np.float64))


def sizes(workload: str, quick: bool) -> list[int]:
    if workload in FUNCTIONS:
        return list(FUNCTION_SIZES["quick" if quick else "full"])
    return list(SIZES["quick" if quick else "full"][workload])


def _rng(workload: str, n: int) -> np.random.Generator:
    return np.random.default_rng([SEED, int(workload[1:]), int(n)])


def make_inputs(workload: str, n: int) -> dict[str, np.ndarray]:
    """The inputs of one workload instance, as float64 arrays (same for every system)."""
    if workload in FUNCTIONS:
        return {"x": function_inputs(workload, n)}
    rng = _rng(workload, n)
    if workload in ("W1", "W3"):
        return {"x": rng.uniform(-8, 8, n), "y": rng.uniform(-8, 8, n)}
    if workload == "W2":
        return {"x": rng.uniform(-1, 1, (n, n)), "y": rng.uniform(-1, 1, (n, n))}
    if workload == "W4":
        return {"x": rng.uniform(-8, 8, n)}
    if workload == "W5":
        d0, d1, d2, d3 = MLP_DIMS
        return {
            "w1": rng.normal(0, (2.0 / d0) ** 0.5, (d0, d1)),
            "b1": rng.normal(0, 0.01, d1),
            "w2": rng.normal(0, (2.0 / d1) ** 0.5, (d1, d2)),
            "b2": rng.normal(0, 0.01, d2),
            "w3": rng.normal(0, (2.0 / d2) ** 0.5, (d2, d3)),
            "b3": rng.normal(0, 0.01, d3),
            "x": rng.uniform(0, 1, (n, d0)),
        }
    if workload == "W6":
        d = LOGREG_FEATURES
        X = rng.normal(0, 1, (n, d)) / np.sqrt(d)
        w_true = rng.normal(0, 2, d)
        labels = (X @ w_true + rng.normal(0, 0.1, n) > 0).astype(np.float64)
        return {"x": X, "y": labels}
    raise ValueError(f"unknown workload {workload!r}")


def relu(a: np.ndarray) -> np.ndarray:
    return np.maximum(a, 0.0)


def sigmoid(a: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-a))


def reference(workload: str, inp: dict[str, np.ndarray]) -> np.ndarray:
    """The float64 plaintext result of the workload."""
    if workload in FUNCTIONS:
        return function_reference(workload, inp["x"])
    if workload == "W1":
        return inp["x"] * inp["y"]
    if workload == "W2":
        return inp["x"] @ inp["y"]
    if workload == "W3":
        return (inp["x"] < inp["y"]).astype(np.float64)
    if workload == "W4":
        return relu(inp["x"])
    if workload == "W5":
        h = relu(inp["x"] @ inp["w1"] + inp["b1"])
        h = relu(h @ inp["w2"] + inp["b2"])
        return h @ inp["w3"] + inp["b3"]
    if workload == "W6":
        X, labels = inp["x"], inp["y"]
        w = np.zeros(X.shape[1])
        b = 0.0
        for s in range(0, X.shape[0], BATCH):
            xb, yb = X[s : s + BATCH], labels[s : s + BATCH]
            err = sigmoid(xb @ w + b) - yb
            w = w - LR / len(xb) * (xb.T @ err)
            b = b - LR / len(xb) * err.sum()
        return np.concatenate([w, [b]])
    raise ValueError(f"unknown workload {workload!r}")


def accuracy(result, ref: np.ndarray) -> dict:
    """Max absolute error vs plaintext and how many results are off by more than 2^-10."""
    res = np.asarray(result, dtype=np.float64).reshape(ref.shape)
    err = np.abs(res - ref)
    return {"max_abs_err": float(err.max()) if err.size else 0.0, "n_off": int((err > TOL).sum()),
            "n_results": int(err.size)}


def relative_error(result, ref: np.ndarray) -> dict:
    """Max relative error |result - ref| / |ref| over the results whose reference is not 0."""
    res = np.asarray(result, dtype=np.float64).reshape(ref.shape)
    nz = ref != 0
    rel = np.abs(res[nz] - ref[nz]) / np.abs(ref[nz])
    return {"max_rel_err": float(rel.max()) if rel.size else 0.0}


def score(workload: str, result, ref: np.ndarray) -> dict:
    """:func:`accuracy`, plus ``max_rel_err`` for the functions (for W1-W6 it would mean little:
    W3's references are 0/1, W4's mostly 0)."""
    out = accuracy(result, ref)
    if workload in FUNCTIONS:
        out.update(relative_error(result, ref))
    return out

