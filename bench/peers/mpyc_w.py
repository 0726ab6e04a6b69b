"""MPyC 0.11 runner for workloads W1-W6 and the functions (run with bench/.peers/mpyc/bin/python).

    bench/.peers/mpyc/bin/python bench/peers/mpyc_w.py --workloads W1,W2 --quick

The launcher (this script without ``--worker``) starts three MPyC parties on localhost (``-M3
-I i``; MPyC needs 3 parties for any privacy: Shamir sharing with threshold t=1, honest
majority), waits for them and prints one JSON line per measurement with the same fields as
Tessera's runners. Our options reach the parties in an environment variable, because MPyC parses
the command line itself. With ``--profile lan|wan`` (root only) each party runs in its own network
namespace made by ``bench/netns.py`` and shaped by that profile (``-P address:port`` per party).

Inputs are given with ``integral=False`` on every party: MPyC infers that flag from the value, so
the owner's fractional input and the other parties' zero placeholders would otherwise disagree on
whether a product needs truncating, and the parties silently compute garbage or hang.

MPyC makes its randomness on the fly (PRSS, no separate offline phase): every time is ``total``.
Numbers are MPyC's ``SecFxp(32, 16)`` (its default: 32 bits, 16 of them fractional) over a
prime field. Time is wall time from a barrier until the party holds its result shares, the
maximum over the parties; bytes come from MPyC's own per-connection counters (``nbytes_sent``,
payload plus its 12-byte headers): ``bytes`` is what the busiest party sent, ``bytes_total`` the
sum over the parties. MPyC has no round counter.

MPyC has no sigmoid: W6 uses the 3-piece linear approximation clip(0.5 + z/4, 0, 1), and its line
says so. In ``--quick`` mode MPyC runs much smaller sizes than the other systems
(``workloads.MPYC_QUICK_SIZES``), and each line says so too.

Functions (suite ``functions``, inputs in workloads.FUNCTIONS): MPyC 0.11 has secure fixed-point
division, so ``reciprocal`` is ``1 / x`` (``np_divide`` -> ``_rec``: normalisation by a bit
decomposition, then Newton iterations), and a fixed-point square root only as the private helper
``mpyc.statistics._fsqrt`` (what ``stdev`` uses): the bitwise method, one secure comparison per
output bit (24 for SecFxp(32, 16)). That helper accepts scalars only (it reads
``sectype.bit_length``) and takes 29 s for 100 elements one by one, so ``sqrt`` runs its loop
unchanged on the SecFxp array (``fsqrt_array``), as MPyC's vectorised comparisons allow. It
has no exp, log, 1/sqrt or tanh for secure fixed point: those
workloads print a ``not-available`` line with that reason (composing them from other primitives
would be our algorithm, not MPyC's). Nor has it the neural-network layers and training of the
``nn`` suite's W7 (LeNet-5) and W8 (an MLP training epoch): not-available lines too (W5 runs as
in the ``ml`` suite). SecFxp(32, 16) holds |x| < 2^15, enough for the inputs;
results keep 16 fractional bits (1/1e4 = 6.6 units, so the relative error there is ~8%).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import sys
import tempfile
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import workloads as wl  # noqa: E402
from launch import report_failed, run_parties  # noqa: E402

ENV_OPTS = "TESSERA_BENCH_MPYC_OPTS"
PARTIES = 3
SECURITY = "semi-honest, honest majority (Shamir over a prime field, 3 parties, t=1)"
PREPROCESSING = "none separate: randomness made on the fly by PRSS during the run"
FXP = (32, 16)
# the functions MPyC 0.11 has for secure fixed point; the others are not-available, for this reason
MPYC_FUNCTIONS = ("reciprocal", "sqrt")
NOT_AVAILABLE = {
    "exp": "MPyC 0.11 has no secure fixed-point exp",
    "log": "MPyC 0.11 has no secure fixed-point log",
    "rsqrt": "MPyC 0.11 has no secure fixed-point 1/sqrt (only statistics._fsqrt, a private sqrt helper)",
    "tanh": "MPyC 0.11 has no secure fixed-point tanh (nor sigmoid)",
    # the nn suite's own workloads: layers and training of mpc.nn / crypten.nn, which MPyC lacks
    "W7": "MPyC 0.11 has no neural-network layers (convolution, max pooling) to run LeNet-5 with",
    "W8": "MPyC 0.11 has no neural-network training (layers, autograd, cross-entropy loss)",
}
FUNCTION_NOTES = {
    "reciprocal": "MPyC 1 / x: np_divide, _rec (bit-decomposition normalisation + Newton)",
    "sqrt": "MPyC's private statistics._fsqrt (stdev's helper), its loop run on arrays: a comparison per output bit",
}


# ---------------------------------------------------------------------------------------------
# worker: one MPyC party


async def _run_worker(opts) -> list[dict]:
    import numpy as np
    from mpyc.runtime import mpc

    secfxp = mpc.SecFxp(*FXP)
    pid = mpc.pid
    out: list[dict] = []

    def nbytes() -> int:
        return sum(p.protocol.nbytes_sent for p in mpc.parties if p.pid != pid and p.protocol is not None)

    def share(arr, owner):
        # integral=False on every party: MPyC infers the flag from the value, so the owner's
        # fractional input and the others' zero placeholders would disagree on whether products
        # need truncation, and the parties would desynchronise (garbage or a hang).
        val = arr if pid == owner else np.zeros(arr.shape)
        return mpc.input(secfxp.array(val, integral=False), senders=owner)

    def sigmoid_approx(z):
        # clip(0.5 + z/4, 0, 1) with two secure comparisons
        s = z * 0.25 + 0.5
        s = s * (s >= 0)
        return s + (s > 1) * (1 - s)

    def fsqrt_array(a):
        # mpyc.statistics._fsqrt line for line, on a SecFxp array: that helper reads
        # sectype.bit_length, which array types lack, and scalar by scalar it takes 29 s for 100
        # elements. The bitwise square root: one secure comparison per output bit, MSB first.
        f = FXP[1]
        e = (FXP[0] + f - 1) // 2  # (l+f)/2 - f = (l-f)/2 in [0..l/2]
        r = secfxp.array(np.zeros(a.shape))
        j = 2 ** (e - f)
        for _ in range(e + 1):
            h = r + j
            r = mpc.if_else(h * h <= a, h, r)
            j /= 2
        return r

    def build(workload, inp):
        if workload == "reciprocal":
            x = share(inp["x"], 0)
            return lambda: 1 / x  # SecureArray.__rtruediv__ -> mpc.np_divide -> mpc._rec
        if workload == "sqrt":
            x = share(inp["x"], 0)
            return lambda: fsqrt_array(x)
        if workload in ("W1", "W2", "W3"):
            x, y = share(inp["x"], 0), share(inp["y"], 1)
            if workload == "W1":
                return lambda: x * y
            if workload == "W2":
                return lambda: x @ y
            return lambda: x < y
        if workload == "W4":
            x = share(inp["x"], 0)
            return lambda: x * (x >= 0)
        if workload == "W5":
            w = {k: share(inp[k], 0) for k in ("w1", "b1", "w2", "b2", "w3", "b3")}
            x = share(inp["x"], 1)

            def mlp():
                h = x @ w["w1"] + w["b1"]
                h = h * (h >= 0)
                h = h @ w["w2"] + w["b2"]
                h = h * (h >= 0)
                return h @ w["w3"] + w["b3"]

            return mlp
        if workload == "W6":
            X, labels = share(inp["x"], 0), share(inp["y"], 1)
            n, d = inp["x"].shape

            def epoch():
                w = secfxp.array(np.zeros(d))
                b = secfxp.array(np.zeros(1))
                for s in range(0, n, wl.BATCH):
                    xb, yb = X[s : s + wl.BATCH], labels[s : s + wl.BATCH]
                    m = min(wl.BATCH, n - s)
                    err = sigmoid_approx(xb @ w + b) - yb
                    w = w - (xb.T @ err) * (wl.LR / m)
                    b = b - mpc.np_sum(err) * (wl.LR / m)
                return mpc.np_concatenate((w, b))

            return epoch
        raise ValueError(workload)

    await mpc.start()
    for workload in opts["workloads"]:
        for n in opts["sizes"][workload]:
            inp = wl.make_inputs(workload, n)
            fn = build(workload, inp)
            for rep in range(opts["repeats"]):
                await mpc.barrier(f"{workload}-{n}-{rep}")
                b0 = nbytes()
                t0 = time.perf_counter()
                res = fn()
                await mpc.gather(res)  # wait until this party holds its result shares
                dt = time.perf_counter() - t0
                b1 = nbytes()
                plain = await mpc.output(res)
                rec = {"workload": workload, "n": n, "repeat": rep, "phase": "total", "seconds": dt,
                       "bytes": b1 - b0}
                if pid == 0:  # W6: vs the exact-sigmoid plaintext epoch (MPyC approximates it)
                    rec.update(wl.score(workload, plain, wl.reference(workload, inp)))
                out.append(rec)
    await mpc.shutdown()
    return out


def worker() -> int:
    opts = json.loads(os.environ[ENV_OPTS])
    from mpyc.runtime import mpc  # parses -M/-I/-B from sys.argv

    recs = mpc.run(_run_worker(opts))
    Path(opts["outdir"], f"party{mpc.pid}.json").write_text(json.dumps(recs))
    return 0


# ---------------------------------------------------------------------------------------------
# launcher


def _free_base_port(count: int) -> int:
    for _ in range(200):
        base = random.randint(20000, 60000)  # noqa: S311 - a port number, not a secret
        socks = []
        try:
            for i in range(count):
                s = socket.socket()
                s.bind(("127.0.0.1", base + i))
                socks.append(s)
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free port range found")


def launch(args) -> int:
    import gmpy2
    import mpyc
    import numpy

    base = {
        "system": "mpyc",
        "engine": "shamir",
        "parties": PARTIES,
        "security": SECURITY,
        "preprocessing": PREPROCESSING,
        "peer_versions": {"mpyc": mpyc.__version__, "gmpy2": gmpy2.version(), "numpy": numpy.__version__},
        "number_type": f"SecFxp{FXP}",
    }
    if args.parties_requested and PARTIES not in args.parties_requested:
        base["notes_parties"] = f"asked for {args.parties_requested} parties; MPyC runs 3 (t=1) for any privacy"
    for workload in args.workloads:
        if workload in NOT_AVAILABLE:  # reported, not run (see the module docstring)
            print(json.dumps({**base, "workload": workload, "status": "not-available",
                              "reason": NOT_AVAILABLE[workload]}), flush=True)
    args.workloads = [w for w in args.workloads if w not in NOT_AVAILABLE]
    if not args.workloads:
        return 0
    with tempfile.TemporaryDirectory(prefix="mpyc-bench-") as tmp:
        opts = {"workloads": args.workloads, "sizes": args.sizes, "repeats": args.repeats, "outdir": tmp}
        env = dict(os.environ, **{ENV_OPTS: json.dumps(opts)})
        port = _free_base_port(PARTIES)

        def command(i, address_of):
            argv = [sys.executable, __file__, "--worker", "-I", str(i)]
            if args.profile == "loopback":
                argv += ["-M", str(PARTIES), "-B", str(port)]
            else:
                for j in range(PARTIES):
                    argv += ["-P", f"{address_of(j)}:{port + j}"]
            return argv, env

        failed, netinfo = run_parties(PARTIES, command, tmp, args.timeout, args.profile, prefix="tbm")
        base.update(netinfo)
        if failed:
            return report_failed(base, args.workloads, f"MPyC run failed: {failed}")
        per_party = [json.loads((Path(tmp) / f"party{i}.json").read_text()) for i in range(PARTIES)]
    for recs in zip(*per_party, strict=True):
        rec = {**base, **recs[0]}
        rec["seconds"] = max(r["seconds"] for r in recs)
        rec["bytes"] = max(r["bytes"] for r in recs)  # the busiest party's, as Tessera reports
        rec["bytes_total"] = sum(r["bytes"] for r in recs)
        rec["bytes_per_party"] = [r["bytes"] for r in recs]
        rec["rounds"] = None
        notes = ["MPyC counts no rounds"]
        if args.quick and rec["n"] not in wl.sizes(rec["workload"], True):
            notes.append(f"--quick: MPyC at n={rec['n']}, smaller than the other systems (pure Python, slow)")
        if rec["workload"] == "W6":
            notes.append("MPyC has no sigmoid: clip(0.5 + z/4, 0, 1) used, error is vs the exact sigmoid")
        if rec["workload"] in FUNCTION_NOTES:
            notes.append(FUNCTION_NOTES[rec["workload"]])
        rec["notes"] = "; ".join(notes)
        print(json.dumps(rec), flush=True)
    return 0


def run_sizes(workloads: list[str], quick: bool, given: str | None) -> dict[str, list[int]]:
    """The sizes MPyC runs each workload at: ``given`` (JSON), else MPyC's quick sizes or the
    full ones; none for the :data:`NOT_AVAILABLE` workloads, which are reported, not run."""
    if given:
        return json.loads(given)
    run = [w for w in workloads if w not in NOT_AVAILABLE]
    return {w: wl.MPYC_QUICK_SIZES[w] if quick else wl.sizes(w, False) for w in run}


def main(argv=None) -> int:
    if "--worker" in sys.argv[1:] and argv is None:
        sys.argv.remove("--worker")
        try:
            return worker()
        except Exception:
            traceback.print_exc()
            return 1
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workloads", default="W1,W2,W3,W4,W5,W6")
    ap.add_argument("--parties", default="", help="accepted for symmetry; MPyC always runs 3 parties")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=3600.0)
    ap.add_argument("--profile", choices=["loopback", "lan", "wan"], default="loopback",
                    help="lan/wan: each party in its own namespace (bench/netns.py), root only")
    ap.add_argument("--sizes", default=None, help="JSON {workload: [n, ...]}")
    args = ap.parse_args(argv)
    args.workloads = [wl.canonical(w) for w in args.workloads.split(",") if w.strip()]
    args.parties_requested = [int(p) for p in args.parties.split(",") if p.strip()]
    args.sizes = run_sizes(args.workloads, args.quick, args.sizes)
    return launch(args)


if __name__ == "__main__":
    sys.exit(main())
