"""``python -m bench``: run a benchmark suite side by side with the peers, then render the table.

    python -m bench SUITE [--engines semi2k,spdz2k] [--parties 2,3] [--profile loopback|lan|wan|all]
                          [--quick] [--out bench/results/<name>.jsonl] [--peers crypten,mpyc|none]
                          [--repeats K] [--no-render]
    python -m bench peers install [crypten mpyc] [--force]
    python -m bench render [RESULTS.jsonl ...]

SUITE is one of kernels, net, arith, compare, functions, ml, all. Every line written to the
results file (default ``bench/results/<suite>.jsonl``, or ``<suite>-lan.jsonl``/``-wan.jsonl`` for
those profiles; rewritten by each run) is stamped with the
machine, the commit, the versions, the settings and the time (see :mod:`bench.stamp`); runners
that cannot run yet leave a ``not-available`` line with the reason. After the run,
``bench/README.md`` and ``bench/plots/`` are regenerated from every results file
(:mod:`bench.render`). ``make bench`` runs ``python -m bench all``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from bench import render, stamp, suites
from bench.peers import install as peer_install

RESULTS = suites.BENCH / "results"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # clear message and exit status 2, as argparse does
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n")


def _csv(s: str) -> list[str]:
    return [p.strip() for p in s.split(",") if p.strip()]


def _parties(s: str) -> list[int]:
    try:
        out = [int(p) for p in _csv(s)]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--parties takes numbers like 2,3, not {s!r}") from None
    if not out or any(p < 2 for p in out):
        raise argparse.ArgumentTypeError("--parties: every party count must be 2 or more")
    return out


def _peers(s: str) -> list[str]:
    if s.strip().lower() == "none":
        return []
    out = _csv(s.lower())
    bad = [p for p in out if p not in suites.PEERS]
    if bad:
        raise argparse.ArgumentTypeError(f"unknown peer(s) {', '.join(bad)}: choose from {', '.join(suites.PEERS)} or none")
    return out


def _sources(text: str) -> list[str]:
    out = _csv(text)
    bad = [s for s in out if s not in ("dealer", "ot")]
    if bad or not out:
        raise argparse.ArgumentTypeError(f"unknown preprocessing {', '.join(bad) or text!r}: choose from dealer, ot")
    return out


def run_parser() -> argparse.ArgumentParser:
    ap = _Parser(prog="python -m bench", description="Run a benchmark suite side by side with the peers.")
    ap.add_argument("suite", help=f"one of: {', '.join(suites.SUITE_CHOICES)} (or 'peers install', 'render')")
    ap.add_argument("--engines", type=_csv, default=None, help="Tessera engines, e.g. semi2k,spdz2k (default: the runner's)")
    ap.add_argument("--parties", type=_parties, default=[2, 3], help="party counts, e.g. 2,3 (default 2,3)")
    ap.add_argument("--profile", choices=(*suites.PROFILES, "all"), default="loopback",
                    help="network profile (default loopback); 'all' runs loopback, then lan and wan")
    ap.add_argument("--quick", action="store_true", help="small sizes / fewer repeats: a smoke run")
    ap.add_argument("--out", type=Path, default=None, help="results file (default bench/results/<suite>.jsonl)")
    ap.add_argument("--peers", type=_peers, default=list(suites.PEERS), help="crypten,mpyc or none (default both)")
    ap.add_argument("--repeats", type=int, default=None, help="interleaved rounds (default 3, --quick 1)")
    ap.add_argument("--preprocessing", type=_sources, default=["dealer"],
                    help="Tessera's material: dealer, ot or dealer,ot (each a line of its own; default dealer)")
    ap.add_argument("--timeout", type=float, default=None, help="seconds per runner command (default 3600, --quick 900)")
    ap.add_argument("--no-install", action="store_true", help="do not install missing peers first")
    ap.add_argument("--no-render", action="store_true", help="do not regenerate bench/README.md and plots")
    return ap


def cmd_peers(argv: list[str]) -> int:
    ap = _Parser(prog="python -m bench peers", description="Install the peers into bench/.peers/.")
    ap.add_argument("action", choices=["install", "status"])
    ap.add_argument("names", nargs="*", default=list(suites.PEERS))
    ap.add_argument("--force", action="store_true", help="reinstall even if the venv imports")
    args = ap.parse_args(argv)
    bad = [n for n in args.names if n not in suites.PEERS]
    if bad:
        ap.error(f"unknown peer(s) {', '.join(bad)}: choose from {', '.join(suites.PEERS)}")
    if args.action == "status":
        for n in args.names:
            ok, info = peer_install.peer_ready(n)
            print(json.dumps({"peer": n, "ready": ok, "detail": info}))
        return 0
    run_id = stamp.new_run_id()
    out = RESULTS / "peers-install.jsonl"
    RESULTS.mkdir(parents=True, exist_ok=True)
    recs = peer_install.install(args.names, force=args.force)
    with open(out, "w") as fh:
        for rec in recs:
            fh.write(json.dumps(stamp.stamp({"suite": "peers", **rec}, {"suite": "peers install"}, run_id)) + "\n")
    return 0 if all(r.get("status") == "ok" for r in recs) else 1


def cmd_render(argv: list[str]) -> int:
    paths = [Path(a) for a in argv] or sorted(RESULTS.glob("*.jsonl"))
    readme = render.render(paths)
    print(f"wrote {readme}")
    return 0


def cmd_run(argv: list[str]) -> int:
    ap = run_parser()
    args = ap.parse_args(argv)
    if args.profile == "all":  # one run per profile (each writes its own files), one render at the end
        if args.out is not None:
            ap.error("--out names one results file: give one --profile with it, not 'all'")
        base = [a for i, a in enumerate(argv) if a != "--no-render" and not (
            a.startswith("--profile") or (i > 0 and argv[i - 1] == "--profile"))]
        for profile in suites.PROFILES:
            print(f"[bench] profile {profile}", file=sys.stderr, flush=True)
            cmd_run([*base, "--profile", profile, "--no-render"])
        if not args.no_render:
            print(f"[bench] rendered {render.render(sorted(RESULTS.glob('*.jsonl')))}", file=sys.stderr)
        return 0
    if args.suite not in suites.SUITE_CHOICES:
        ap.error(f"unknown suite {args.suite!r}: choose one of {', '.join(suites.SUITE_CHOICES)}, "
                 "or 'peers install', 'render'")
    if args.repeats is not None and args.repeats < 1:
        ap.error("--repeats must be 1 or more")
    st = suites.Settings(suite=args.suite, engines=args.engines, parties=args.parties, profile=args.profile,
                         quick=args.quick, peers=args.peers, preprocessing=args.preprocessing,
                         repeats=args.repeats if args.repeats is not None else (1 if args.quick else 3),
                         timeout=args.timeout if args.timeout is not None else (900.0 if args.quick else 3600.0))
    # one file per suite and profile: a lan or wan run never replaces the loopback results
    out = args.out or RESULTS / (f"{args.suite}.jsonl" if st.profile == "loopback" else f"{args.suite}-{st.profile}.jsonl")
    out.parent.mkdir(parents=True, exist_ok=True)
    run_id = stamp.new_run_id()
    settings = st.as_dict()

    needs_peers = any(suites.SUITES[s].workloads for s in suites.expand(st.suite))
    if needs_peers and st.peers and st.profile == "loopback" and not args.no_install:
        missing = [p for p in st.peers if not peer_install.peer_ready(p)[0]]
        if missing:
            print(f"[bench] installing missing peers: {', '.join(missing)}", file=sys.stderr, flush=True)
            recs = peer_install.install(missing)
            with open(RESULTS / "peers-install.jsonl", "w") as fh:
                for rec in recs:
                    fh.write(json.dumps(stamp.stamp({"suite": "peers", **rec}, {"suite": "peers install"}, run_id)) + "\n")

    runners = suites.build_runners(st, peer_install.peer_ready)
    logpath = out.with_suffix(".log.tmp")  # git-ignored (bench/results/*.tmp)
    with open(out, "w") as fh, open(logpath, "w") as log:

        def emit(rec: dict) -> None:
            line = json.dumps(stamp.stamp(rec, settings, run_id))
            fh.write(line + "\n")
            fh.flush()
            status = rec.get("status")
            if status:
                print(f"[bench] {rec.get('runner')}: {status}: {rec.get('reason', '')}", file=sys.stderr, flush=True)

        suites.execute(runners, st, emit, log)
    print(f"[bench] results: {out} (stderr of the runners: {logpath})", file=sys.stderr)
    if not args.no_render:
        readme = render.render(sorted(out.parent.glob("*.jsonl")))
        print(f"[bench] rendered {readme}", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "peers":
        return cmd_peers(argv[1:])
    if argv and argv[0] == "render":
        return cmd_render(argv[1:])
    return cmd_run(argv)


if __name__ == "__main__":
    sys.exit(main())
