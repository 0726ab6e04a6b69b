"""Suites: which runner commands each suite executes, and how a run executes them.

A suite is a list of runners. A Tessera runner is a script under ``bench/`` run with this
interpreter; a peer runner is ``bench/peers/<peer>_w.py`` run with the peer's own interpreter
(``bench/.peers/<peer>/bin/python``) for the suite's workloads. Every runner prints JSON lines;
the driver stamps them (:mod:`bench.stamp`) and appends them to the results file.

Fairness: the runners of a suite are run in rounds, ``--repeats`` times, one after the other
within each round (Tessera, CrypTen TTP, CrypTen TFP, MPyC, Tessera, ...), so a burst of load on
the shared machine hits every system alike; the rendered table takes medians over the rounds.

On the lan/wan profiles the peers run every party in its own network namespace
(``bench/netns.py``); a Tessera script gets ``--profile`` only if its ``--help`` lists it.

A runner whose script does not exist yet, whose peer is not installed, or which cannot honour a
setting (e.g. a network profile) is not dropped: it yields one ``status: not-available`` line
with the reason, and the rendered table shows it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent

PEERS = ("crypten", "mpyc")
PROFILES = ("loopback", "lan", "wan")


@dataclass(frozen=True)
class SuiteSpec:
    script: str | None  # Tessera's runner, relative to the repository root
    workloads: tuple[str, ...] = ()  # what the peers run for this suite
    what: str = ""


SUITES: dict[str, SuiteSpec] = {
    "kernels": SuiteSpec("bench/kernels.py", (), "compiled kernels vs NumPy on one machine"),
    "net": SuiteSpec("bench/net.py", (), "channel throughput and latency per network profile"),
    "arith": SuiteSpec("bench/arith.py", ("W1", "W2"), "W1 elementwise product, W2 matrix product"),
    "compare": SuiteSpec("bench/compare.py", ("W3", "W4"), "W3 comparison x < y, W4 ReLU, sigmoid, softmax"),
    "functions": SuiteSpec("bench/functions.py", ("exp", "log", "reciprocal", "sqrt", "rsqrt", "tanh"),
                           "exp, log, reciprocal, sqrt, rsqrt, tanh (mpc.functions)"),
    "ml": SuiteSpec("bench/ml.py", ("W5", "W6"), "W5 MLP inference, W6 logistic regression epoch"),
    "dp": SuiteSpec("bench/dp.py", (), "DP samplers in plaintext (beside OpenDP) and DP noise inside MPC"),
    "offline": SuiteSpec("bench/offline.py", (), "dealer-free material from OT: Z_2^64 triples, AND triples, daBits"),
    "nn": SuiteSpec("bench/nn.py", ("W5", "W7", "W8"),
                    "mpc.nn: W5 through from_torch, W7 LeNet-5 inference, W8 MLP training epoch"),
    "paillier": SuiteSpec("bench/paillier.py", (),
                          "Paillier matrix triples (offline), 2 parties as 2 processes, 2048-bit keys"),
}
ALL_SUITES = tuple(SUITES)
SUITE_CHOICES = (*ALL_SUITES, "all")


def expand(suite: str) -> list[str]:
    if suite == "all":
        return list(ALL_SUITES)
    if suite not in SUITES:
        raise ValueError(f"unknown suite {suite!r}: choose one of {', '.join(SUITE_CHOICES)}")
    return [suite]


@dataclass
class Settings:
    suite: str
    engines: list[str] | None = None
    parties: list[int] = field(default_factory=lambda: [2, 3])
    profile: str = "loopback"
    quick: bool = False
    peers: list[str] = field(default_factory=lambda: list(PEERS))
    repeats: int = 3
    timeout: float = 3600.0
    preprocessing: list[str] = field(default_factory=lambda: ["dealer"])  # Tessera's runner once per source

    def as_dict(self) -> dict:
        return {"suite": self.suite, "engines": self.engines, "parties": self.parties, "profile": self.profile,
                "quick": self.quick, "peers": self.peers, "repeats": self.repeats, "preprocessing": self.preprocessing}


@dataclass
class Runner:
    suite: str
    name: str  # e.g. "tessera:bench/arith.py", "crypten:ttp:2p", "mpyc:3p"
    system: str
    argv: list[str] | None  # None: not available
    reason: str = ""
    extra: dict = field(default_factory=dict)  # fields added to each of its lines
    repeats_inside: bool = False  # the runner takes --repeats 1 per round


# ----------------------------------------------------------------------------------------------
# building the runner list


_help_cache: dict[str, str] = {}


def script_help(script: Path) -> str:
    """The ``--help`` text of a runner script ('' if it fails), to pass only the flags it has."""
    key = str(script)
    if key not in _help_cache:
        try:
            proc = subprocess.run([sys.executable, str(script), "--help"], cwd=REPO, capture_output=True,
                                  text=True, timeout=120, env=_env())
            _help_cache[key] = proc.stdout if proc.returncode == 0 else ""
        except (OSError, subprocess.TimeoutExpired):
            _help_cache[key] = ""
    return _help_cache[key]


def _env() -> dict:
    env = dict(os.environ)
    # One BLAS thread in every runner and every process it starts (the peers' launchers pass
    # their environment on to their parties), Tessera's and the peers' alike:
    # NumPy's OpenBLAS otherwise starts a thread per core, and its idle threads keep spinning
    # after a float64 product (a party's reference or input computation), slowing whichever
    # process runs next on this machine's few cores (measured at 072008c, 2 parties: semi2k's W2
    # online 2.1-2.25 ms with one thread, 2.9-4.3 ms with the default, three launches each).
    env.setdefault("OPENBLAS_NUM_THREADS", "1")
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def _has(helptext: str, flag: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", helptext) is not None


def tessera_runner(suite: str, st: Settings) -> list[Runner]:
    spec = SUITES[suite]
    name = f"tessera:{spec.script}"
    path = REPO / spec.script
    if not path.exists():
        return [Runner(suite, name, "tessera", None,
                       f"{spec.script} does not exist yet (Tessera's {suite} runner: {spec.what})")]
    helptext = script_help(path)
    if not helptext:
        return [Runner(suite, name, "tessera", None, f"{spec.script} --help failed: the script does not run")]
    argv = [sys.executable, str(path)]
    if st.quick:
        if _has(helptext, "--quick"):
            argv.append("--quick")
    if _has(helptext, "--parties"):
        argv += _list_option(helptext, "--parties", [str(p) for p in st.parties])
    if st.engines:
        if _has(helptext, "--engines"):
            argv += _list_option(helptext, "--engines", st.engines)
        elif _has(helptext, "--engine"):
            argv += ["--engine", st.engines[0]]
    if st.profile != "loopback":
        if _has(helptext, "--profile"):
            argv += ["--profile", st.profile]
        else:
            return [Runner(suite, name, "tessera", None,
                           f"{spec.script} has no --profile option: cannot run it on the {st.profile} profile")]
    inside = _has(helptext, "--repeats")
    if inside:
        argv += ["--repeats", "1"]
    out = []
    for source in st.preprocessing:  # one runner per source: their lines land in the same tables
        if source == "dealer":
            out.append(Runner(suite, name, "tessera", argv, repeats_inside=inside))
        elif _has(helptext, "--preprocessing"):
            out.append(Runner(suite, f"{name}:{source}", "tessera", [*argv, "--preprocessing", source],
                              repeats_inside=inside))
        else:
            out.append(Runner(suite, f"{name}:{source}", "tessera", None,
                              f"{spec.script} has no --preprocessing option: it measures the dealer's material only"))
    return out


def _list_option(helptext: str, flag: str, values: list[str]) -> list[str]:
    """``flag`` with ``values`` in the form the script's argparse takes: ``nargs="+"`` (its help
    shows ``--flag X [X ...]``, possibly with a ``{choices}`` metavar) or one comma-separated word."""
    if re.search(re.escape(flag) + r"\s+(\w+|\{[^}]*\})\s+\[(\w+|\{[^}]*\})\s*\.\.\.\]", helptext):
        return [flag, *values]
    return [flag, ",".join(values)]


def peer_runners(suite: str, st: Settings, peer_ready: Callable[[str], tuple[bool, str]]) -> list[Runner]:
    spec = SUITES[suite]
    if not spec.workloads:
        return []
    out: list[Runner] = []
    wls = ",".join(spec.workloads)
    for peer in st.peers:
        script = BENCH / "peers" / f"{peer}_w.py"
        if peer == "crypten":
            variants = [(p, d) for p in st.parties for d in ("ttp", "tfp")]
            names = [f"crypten:{d}:{p}p" for p, d in variants]
        else:
            variants = [(3, "shamir")]
            names = ["mpyc:3p"]
        ok, base_reason = peer_ready(peer)
        base_reason = "" if ok else base_reason
        if not base_reason and st.profile != "loopback":
            why = netns_unavailable()
            if why:
                base_reason = f"the {st.profile} profile puts every party in its own network namespace: {why}"
        for (p, d), name in zip(variants, names, strict=True):
            extra = {"workloads": list(spec.workloads)}
            if base_reason:
                out.append(Runner(suite, name, peer, None, base_reason, extra))
                continue
            py = str(BENCH / ".peers" / peer / "bin" / "python")
            argv = [py, str(script), "--workloads", wls, "--repeats", "1"]
            if peer == "crypten":
                argv += ["--parties", str(p), "--dealer", d]
            else:
                argv += ["--parties", ",".join(map(str, st.parties))]
            if st.quick:
                argv.append("--quick")
            if st.profile != "loopback":
                argv += ["--profile", st.profile]
            out.append(Runner(suite, name, peer, argv, extra=extra, repeats_inside=True))
    return out


def netns_unavailable() -> str:
    """'' when bench/netns.py can make network namespaces here, else why not."""
    try:
        from bench import netns
    except ImportError as exc:
        return f"bench/netns.py is not importable ({exc})"
    ok, why = netns.available()
    return "" if ok else why


def build_runners(st: Settings, peer_ready: Callable[[str], tuple[bool, str]]) -> list[Runner]:
    runners: list[Runner] = []
    for suite in expand(st.suite):
        runners += tessera_runner(suite, st)
        runners += peer_runners(suite, st, peer_ready)
    return runners


# ----------------------------------------------------------------------------------------------
# executing


def run_command(argv: list[str], timeout: float, on_line: Callable[[dict], None], log) -> tuple[int, str, int]:
    """Run one runner; JSON lines go to ``on_line``, the rest to ``log``. (rc, stderr tail, lines)."""
    proc = subprocess.Popen(argv, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env())
    err_lines: list[str] = []

    def pump_err():
        assert proc.stderr is not None
        for line in proc.stderr:
            err_lines.append(line.rstrip("\n"))
            del err_lines[:-40]
            if log:
                log.write(line)

    t = threading.Thread(target=pump_err, daemon=True)
    t.start()
    timer = threading.Timer(timeout, proc.kill)
    timer.start()
    count = 0
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            s = line.strip()
            if s.startswith("{"):
                try:
                    rec = json.loads(s)
                except json.JSONDecodeError:
                    rec = None
                if isinstance(rec, dict):
                    on_line(rec)
                    count += 1
                    continue
            if log and s:
                log.write(line)
        rc = proc.wait()
    finally:
        timer.cancel()
    t.join(timeout=5)
    tail = " | ".join(err_lines[-4:])
    if rc < 0:
        tail = f"killed by signal {-rc} (the timeout is {timeout:.0f} s) " + tail
    return rc, tail, count


def execute(runners: list[Runner], st: Settings, emit: Callable[[dict], None], log=None) -> None:
    """Run the runners in ``st.repeats`` interleaved rounds; every outcome becomes a line."""
    for r in runners:
        if r.argv is None:
            emit({"suite": r.suite, "runner": r.name, "system": r.system, "status": "not-available",
                  "reason": r.reason, **r.extra})
    live = [r for r in runners if r.argv is not None]
    for rnd in range(max(1, st.repeats)):
        for r in live:
            t0 = time.monotonic()
            print(f"[bench] round {rnd + 1}/{st.repeats}: {r.name} ({r.suite})", file=sys.stderr, flush=True)

            def on_line(rec: dict, r=r, rnd=rnd) -> None:
                rec.setdefault("system", r.system)
                emit({"suite": r.suite, "runner": r.name, "round": rnd, **r.extra, **rec})

            rc, tail, count = run_command(r.argv, st.timeout, on_line, log)
            if rc != 0:
                emit({"suite": r.suite, "runner": r.name, "system": r.system, "round": rnd, "status": "failed",
                      "reason": f"exit code {rc}: {tail}" if tail else f"exit code {rc}",
                      "seconds_wall": round(time.monotonic() - t0, 1), **r.extra})
            elif count == 0:
                emit({"suite": r.suite, "runner": r.name, "system": r.system, "round": rnd, "status": "failed",
                      "reason": "the runner printed no JSON line", **r.extra})
