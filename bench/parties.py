"""Running a benchmark's parties: as threads of this process, or one process each via mpcrun.

A runner (bench/arith.py, bench/compare.py, bench/ml.py) defines ``party_main(p, op, size, repeats, barrier)``
returning that party's timings (:func:`time_phases` does the usual offline/online loop). Then
- ``transport="procs"``: every party (and the dealer) is its own process talking ZeroMQ, as
  the peers run; each party prints one ``BENCH-RESULT {json}`` line. On the ``loopback``
  profile ``mpcrun -n P --insecure-plaintext bench/party_script.py SUITE OP SIZE REPEATS``
  starts them all on loopback ports, with mpcrun's default for one host: payloads of at least
  ``shm_ring.MIN_BYTES`` (64 KiB; 1 MiB up to cbf848a) go through shared-memory rings
  (mpc.net.shm_ring), the rest over TCP. On ``lan``/``wan``
  each process runs in its own network namespace (bench/netns.py, shaped by the profile),
  started the multi-host way: a hosts file lists one namespace address per party and the dealer's, and process i runs
  ``mpcrun --pid i --hosts hosts.toml --insecure-plaintext bench/party_script.py ...`` (the
  dealer ``mpcrun --pid dealer --hosts hosts.toml`` in namespace P). The processes are started,
  awaited and cleaned up by bench/peers/launch.py's ``run_parties``, the code the peers use, so
  every system gets the same namespaces and shaping;
- ``transport="procs-enc"``: as ``procs`` without ``--insecure-plaintext``: mpcrun's encrypted
  default (CURVE for the set-up, then every message as AES-256-GCM records on the bulk links,
  same-host payloads from ``shm_ring.MIN_BYTES`` through the shared-memory rings, see
  mpc/net/zmq_records.py). Its
  records carry engine ``<engine> encrypted`` (a line of its own in every table), transport
  ``...-encrypted`` and ``encrypted: true``; on lan/wan the hosts file gets keys
  (``mpcrun keygen``). :func:`transports` gives it beside ``procs`` by default. Whether its
  rings carried AES-GCM records depends on the host (``--shm auto``: sealed where ptrace is
  restricted, mpc/net/shm_ring.py): every record says so in ``rings_sealed``;
- ``transport="procs-enc-sealed"`` (loopback): the encrypted default with ``--shm sealed``,
  records in the rings whatever the host (engine ``<engine> encrypted sealed``): what sealing
  costs, beside the default. :func:`transports` adds it with ``sealed=True`` (bench/arith.py);
- ``transport="procs-tcp"``: as ``procs`` on loopback with ``--shm off``, every byte over TCP
  as the peers send theirs (the like-for-like line; its records carry engine ``<engine> tcp``);
- ``transport="local"``: :func:`mpc.testing.run_local` (threads, in-process channels, a dealer
  thread): the engine's own cost without sockets (loopback only).
:func:`summarize` turns the per-party results into the median over repeats of the slowest party.

Every record says whether its links were encrypted (``encrypted``) and carries the network facts,
under the names the peers use: ``profile``,
``shaping`` (the tc qdisc applied, None on loopback), ``delay_ms`` (the one-way delay actually
emulated) and ``rate`` (the rate actually enforced, None when unshaped).
"""

from __future__ import annotations

import json
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from bench.peers import workloads as wl

REPO = Path(__file__).resolve().parents[1]
PARTY_SCRIPT = Path(__file__).resolve().with_name("party_script.py")
RESULT_TAG = "BENCH-RESULT "
TRANSPORTS = {"procs": "processes-zmq+shm-loopback", "procs-enc": "processes-zmq+shm-loopback-encrypted",
              "procs-enc-sealed": "processes-zmq+shm-loopback-encrypted-sealed",
              "procs-tcp": "processes-zmq-loopback", "local": "local-threads"}
NETNS_TRANSPORT = "processes-zmq-netns"  # transport label of procs runs on lan/wan
ENCRYPTED = "procs-enc"  # the transport that runs mpcrun's encrypted default
ENCRYPTED_SUFFIX = "-encrypted"  # on its transport label
ENCRYPTED_ENGINE = " encrypted"  # on its engine, so its records make lines of their own
SEALED = "procs-enc-sealed"  # the encrypted default with every ring sealed (--shm sealed), loopback
SEALED_ENGINE = " encrypted sealed"
PROFILES = ("loopback", "lan", "wan")
PREPROCESSING = ("dealer", "ot")  # --preprocessing of the runners; "ot" records carry engine "<engine> ot"
NETNS_PREFIX = "tsb"  # namespace names tsb0..tsbP: apart from the peers' (tbc, tbm) and netns.py's (tsr)
# Every process has a namespace (and so a port space) of its own: fixed ports cannot clash.
PARTY_PORT = 5000
DEALER_PORT = 5100  # the dealer listens on DEALER_PORT + pid, one port per party
RUN_TIMEOUT = 1800.0


def settle(result) -> None:
    """Make every share of ``result`` (a SecretTensor, or tuples and lists of them): an engine may
    hand a product back deferred (masked2k: mpc.engines.base.Deferred), its last local pass
    made on first use, and that pass belongs to the timed run, not to the reveal after it."""
    if isinstance(result, (tuple, list)):
        for r in result:
            settle(r)
    elif hasattr(result, "share"):
        result.share  # noqa: B018 (the property makes the share)


def time_phases(p, fn, args, repeats: int, barrier) -> dict:
    """Warm-up run recording the plan (masked2k: a dry run per repeat), and one untimed offline +
    online round; then per repeat the offline phase (preprocess the plan) and the online phase
    (``fn(*args)`` with no dealer traffic), each started together.

    Under spdz2k the openings of the runs before are MAC-checked, untimed, at the start of each
    round: without it a timed run would also check up to CHECK_EVERY elements opened by the
    warm-up and earlier rounds (a 10^6-element product, 2 * 10^6 openings, checked 6 * 10^6 in
    its first timed round), and a one-repeat run measured that check as the product's cost.

    The untimed round makes the first timed one a third run of ``fn`` in this process, as in
    the peers' runners (CrypTen's: a warm-up, then per repeat a traced run and the online run),
    so first-use costs (the heap growing to its working set, fresh pages) stay out of the
    medians of every system alike."""
    with p.recording() as plan:
        fn(*args)
    # masked2k's requests name the mask tags of this very run (the counter moves on with every
    # run), so its plan comes from a dry run before each repeat, untimed, as a user would plan
    replan = hasattr(p.engine, "follow")
    if replan and not args:  # a dry run shadows only its arguments: a closure would run for real
        raise ValueError("time_phases: masked2k plans by a dry run, which needs the secret tensors as arguments")
    offline, online = [], []
    mac = getattr(p.engine, "mac", None)
    for r in range(repeats + 1):  # round 0 is the untimed one
        if replan:
            plan = p.dry_run(fn, *args)
        if mac is not None:
            # spdz2k: check the openings of the runs before, untimed, so a timed run holds the
            # checks its own openings force (one per CHECK_EVERY elements) and no earlier run's
            mac.check("bench: the openings of the runs before")
        barrier()
        rounds0 = p.stats().get("offline", {}).get("rounds", 0)
        t0 = time.perf_counter()
        report = p.preprocess(plan)
        offline.append(time.perf_counter() - t0)
        # the dealer's material received, or (preprocessing="ot") the OT traffic, pairwise alike
        dealer_bytes = report["bytes_received"]
        ot_rounds = p.stats().get("offline", {}).get("rounds", 0) - rounds0
        barrier()
        with p.section(f"on{r}"):
            t0 = time.perf_counter()
            settle(fn(*args))
            online.append(time.perf_counter() - t0)
    s = p.stats()["sections"][f"on{repeats}"]
    sealed = bool(getattr(p.channel, "sealed_rings", None))  # AES-GCM records in this party's rings
    return {"offline": offline[1:], "online": online[1:], "dealer_bytes": dealer_bytes, "online_bytes": s["bytes_sent"],
            "rings_sealed": sealed,
            "online_rounds": s["rounds"], "offline_rounds": ot_rounds or (1 if p.pid == p.n - 1 else 0)}


def time_and_check(p, fn, args, repeats: int, barrier, reference, workload: str = "") -> dict:
    """:func:`time_phases`, then reveal the last online result and score it against the float64
    plaintext ``reference`` (max_abs_err, n_off: results off by more than 2^-10, n_results; and
    max_rel_err for the function workloads: :func:`bench.peers.workloads.score`)."""
    last = [None]  # only the newest result stays alive, as in the peers' runners: keeping every
    # repeat's result would grow the heap by one result per repeat (fresh pages to fault in)

    def run(*a):
        last[0] = fn(*a)
        return last[0]

    out = time_phases(p, run, args, repeats, barrier)
    out.update(wl.score(workload, p.reveal(last[0]), reference))
    return out


def channel_barrier(p):
    """All parties start a phase together (one tiny exchange)."""
    return lambda: p.channel.exchange(np.zeros(1, dtype=np.uint64))


# ----------------------------------------------------------------------------------------------
# network profiles


def profile_unavailable(profile: str) -> str:
    """'' when ``profile`` can run here, else why not (lan/wan need network namespaces)."""
    if profile == "loopback":
        return ""
    from bench import netns

    ok, why = netns.available()
    return "" if ok else f"the {profile} profile puts every process in its own network namespace: {why}"


def net_fields(info: dict) -> dict:
    """The network facts every record carries, from ``run_parties``' info (which on loopback
    holds the profile only): no shaping there, so shaping/rate None and no delay."""
    return {"profile": info.get("profile", "loopback"), "shaping": info.get("shaping"),
            "delay_ms": info.get("delay_ms", 0.0), "rate": info.get("rate")}


def add_profile_argument(ap) -> None:
    ap.add_argument("--profile", choices=PROFILES, default="loopback",
                    help="network: lan/wan run every process in its own namespace shaped by that profile "
                         "(bench/netns.py; root only)")


def runner_parser(doc: str, *, repeats: int | None, quick_help: str = "small sizes, one repeat (a smoke test)",
                  preprocessing: bool = False):
    """The command line every runner shares (--quick, --parties, --repeats, --transport, --profile;
    --preprocessing for the runners that pass it on to :func:`measure`)."""
    import argparse

    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help=quick_help)
    ap.add_argument("--parties", type=int, nargs="+", default=[2, 3])
    if repeats is not None:
        ap.add_argument("--repeats", type=int, default=repeats)
    ap.add_argument("--transport", choices=sorted(TRANSPORTS), default="procs")
    if preprocessing:
        ap.add_argument("--preprocessing", choices=PREPROCESSING, default="dealer",
                        help="where the material comes from: the dealer process (default) or the parties' own OT "
                             "offline phase (records: engine '<engine> ot')")
    add_profile_argument(ap)
    return ap


def parse_runner_args(ap, argv, engine: str, workloads: list[str]):
    """Parsed arguments, or None when the profile cannot run here (its not-available line printed)."""
    args = ap.parse_args(argv)
    if args.profile != "loopback" and not args.transport.startswith("procs"):
        ap.error("--profile lan/wan runs processes in namespaces: it needs --transport procs")
    return None if report_unavailable(args.profile, engine=engine, workloads=workloads) else args


_NOT_UNDER_OT = {
    "spdz2k": "spdz2k with preprocessing='ot' makes every kind, too slowly for these sizes "
              "(an AND gate costs 5 authenticated triples; the truncation and division "
              "tuples' rates: suite offline): measured with the dealer only",
    "masked2k": "masked2k's masks come from the dealer's seeds: there is no dealer-free masked material yet",
}


def engines_for_source(args, engines: list[str]) -> list[str]:
    """The engines a runner measures with ``args.preprocessing``: under ``ot``, spdz2k (its
    dealer-free bit material costs 5 authenticated triples per AND gate and its truncation tuples
    come at about 60 per second: hours at these sizes) and masked2k (dealer masks only) are left
    out, each with a not-available line."""
    if getattr(args, "preprocessing", "dealer") != "ot":
        return list(engines)
    for engine in engines:
        if engine in _NOT_UNDER_OT:
            print(json.dumps({"system": "tessera", "engine": f"{engine} ot", "preprocessing": "ot",
                              "status": "not-available", "reason": _NOT_UNDER_OT[engine],
                              **net_fields({"profile": args.profile})}), flush=True)
    return [e for e in engines if e not in _NOT_UNDER_OT]


def run_engine_cases(args, cases, measure, repeats: int) -> None:
    """Print the JSON lines of every ``(op, size)`` case for each party count of ``args``: the
    engines take turns within a case (a burst of load on a shared machine hits them alike), each
    over the transports :func:`transports` lists. ``measure`` is the runner's own."""
    engines = engines_for_source(args, args.engines)
    for parties in args.parties:
        for op, size in cases:
            for engine in engines:
                for transport in transports(args.transport, args.profile):  # plaintext and encrypted defaults
                    for line in measure(op, size, parties, repeats, transport, args.profile, engine,
                                        preprocessing=args.preprocessing):
                        print(json.dumps(line), flush=True)


def report_unavailable(profile: str, **fields) -> bool:
    """If ``profile`` cannot run here, print the ``not-available`` line (with the reason) and
    return True: a runner never falls back to loopback silently."""
    why = profile_unavailable(profile)
    if why:
        print(json.dumps({"system": "tessera", "status": "not-available", "reason": why,
                          **net_fields({"profile": profile}), **fields}), flush=True)
        print(f"not available: {why}", file=sys.stderr)
    return bool(why)


def transport_label(transport: str, profile: str) -> str:
    if transport.startswith("procs") and profile != "loopback":
        return NETNS_TRANSPORT + (ENCRYPTED_SUFFIX if transport == ENCRYPTED else "")
    return TRANSPORTS[transport]


def transports(transport: str, profile: str, *, tcp: bool = False, sealed: bool = False) -> list[str]:
    """The transports a runner measures for ``--transport``: ``procs`` (the default) brings the
    encrypted default beside it (``procs-enc``) and, on loopback, with ``tcp`` the like-for-like
    TCP line (``procs-tcp``) and with ``sealed`` the encrypted default with sealed rings
    (``procs-enc-sealed``); any other choice measures that one alone."""
    if transport != "procs":
        return [transport]
    here = profile == "loopback"
    return ["procs", ENCRYPTED, *([SEALED] if sealed and here else []), *(["procs-tcp"] if tcp and here else [])]


# ----------------------------------------------------------------------------------------------
# running


def run(suite: str, party_main, op: str, size: int, parties: int, repeats: int, transport: str,
        profile: str = "loopback", prefix: str = NETNS_PREFIX, engine: str = "semi2k",
        preprocessing: str = "dealer") -> tuple[list[dict], dict]:
    """Every party's result dict, and the network facts (see :func:`net_fields`)."""
    if transport.startswith("procs"):
        encrypted = transport in (ENCRYPTED, SEALED)
        if profile == "loopback":
            shm = {"procs-tcp": "off", SEALED: "sealed"}.get(transport, "auto")
            return _processes(suite, op, size, parties, repeats, shm, engine, encrypted, preprocessing), net_fields({})
        return _namespaced(suite, op, size, parties, repeats, profile, prefix, engine, encrypted, preprocessing)
    if profile != "loopback":
        raise ValueError(f"the {profile} profile needs processes (transport 'procs'): threads share one network")
    from mpc.testing import run_local

    barrier = threading.Barrier(parties)
    res = run_local(lambda p: party_main(p, op, size, repeats, barrier.wait), parties,
                    preprocessing=preprocessing, timeout=600, engine=engine)
    return res, net_fields({})


def _party_args(suite: str, op: str, size: int, repeats: int) -> list[str]:
    return [str(PARTY_SCRIPT), suite, op, str(size), str(repeats)]


def _results(text: str, parties: int, where: str) -> list[dict]:
    found = [json.loads(line.split(RESULT_TAG, 1)[1]) for line in text.splitlines() if RESULT_TAG in line]
    if len(found) != parties:
        raise RuntimeError(f"expected {parties} result lines from {where}, got {len(found)}: {text[-2000:]}")
    return found


def _processes(suite: str, op: str, size: int, parties: int, repeats: int, shm: str = "auto",
               engine: str = "semi2k", encrypted: bool = False, preprocessing: str = "dealer") -> list[dict]:
    with tempfile.TemporaryDirectory() as logs:
        plain = [] if encrypted else ["--insecure-plaintext"]
        cmd = [sys.executable, "-m", "mpc", "run", "-n", str(parties), *plain, "--timeout", "600",
               "--shm", shm, "--engine", engine, "--preprocessing", preprocessing, "--log-dir", logs,
               *_party_args(suite, op, size, repeats)]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=RUN_TIMEOUT, cwd=REPO)
    if done.returncode != 0:
        raise RuntimeError(f"mpcrun failed ({done.returncode}): {done.stdout[-2000:]} {done.stderr[-2000:]}")
    return _results(done.stdout, parties, "mpcrun")


def _namespaced(suite: str, op: str, size: int, parties: int, repeats: int, profile: str,
                prefix: str, engine: str = "semi2k", encrypted: bool = False, preprocessing: str = "dealer",
                extra: Sequence[str] = ()) -> tuple[list[dict], dict]:
    """Parties 0..P-1 and (``preprocessing="dealer"``) the dealer, process P, each in its own
    namespace, joined through one hosts file as on separate hosts (with every process's keys when
    ``encrypted``); ``run_parties`` makes, shapes and removes the namespaces. ``extra``: more
    ``mpcrun`` flags for the parties (e.g. ``--ot-batch``)."""
    from bench.peers.launch import run_parties
    from mpc.launch.keygen import generate_keys, write_hosts
    from mpc.launch.local import child_env, share_cores

    dealer = preprocessing == "dealer"  # the ot source has no dealer process
    with tempfile.TemporaryDirectory(prefix="tessera-bench-") as tmp:
        hosts = Path(tmp) / "hosts.toml"
        # child_env: PYTHONPATH reaches this checkout's mpc, unbuffered output for the logs;
        # share_cores: these "hosts" are one machine's cores, shared out as mpcrun -n does
        env = share_cores(child_env(), parties + int(dealer))
        # a fresh session name per run: a straggler of another run is rejected by the wire checks
        session = f"bench-{suite}-{op}-{secrets.token_hex(4)}"

        def command(i: int, address_of) -> tuple[list[str], dict]:
            if not hosts.exists():  # the addresses are known once the namespaces exist
                write_hosts(hosts, session, [f"{address_of(j)}:{PARTY_PORT}" for j in range(parties)],
                            f"{address_of(parties)}:{DEALER_PORT}" if dealer else None)
                if encrypted:  # every process's keys, next to the hosts file all of them read
                    generate_keys(hosts)
            pid = "dealer" if i == parties else str(i)
            plain = [] if encrypted else ["--insecure-plaintext"]
            argv = [sys.executable, "-m", "mpc", "run", "--pid", pid, "--hosts", str(hosts), *plain,
                    "--timeout", "600", "--engine", engine, "--preprocessing", preprocessing,
                    "--log-dir", str(Path(tmp) / "mpcrun-logs")]
            if i < parties:  # the dealer runs no script
                argv += [*extra, *_party_args(suite, op, size, repeats)]
            return argv, env

        failed, info = run_parties(parties + int(dealer), command, tmp, RUN_TIMEOUT, profile, prefix=prefix)
        if failed:
            raise RuntimeError(f"{suite} {op} on the {profile} profile failed: {failed}")
        # run_parties sends process i's output to log<i>.txt; each party prints its result line
        text = "\n".join((Path(tmp) / f"log{i}.txt").read_text(errors="replace") for i in range(parties))
    return _results(text, parties, f"the parties on the {profile} profile"), net_fields(info)


def measure(suite: str, party_main, op: str, size: int, parties: int, repeats: int, transport: str,
            profile: str = "loopback", prefix: str = NETNS_PREFIX, **fields) -> list[dict]:
    """Run ``party_main`` on every party and return the offline and online JSON records.

    ``fields`` go into both records (engine, dtype, ...); ``fields["engine"]`` is the engine the
    parties run (semi2k when absent); accuracy keys that party 0's result carries (max_abs_err,
    max_rel_err, n_off, n_results) are copied too, and the network facts.
    """
    from mpc._core import get_kernels

    preprocessing = fields.pop("preprocessing", "dealer")
    if preprocessing != "dealer":  # a line of its own in every table, beside the dealer's
        fields = {**fields, "engine": f"{fields.get('engine', 'semi2k')} {preprocessing}",
                  "preprocessing": preprocessing}
    engine = fields.get("engine", "semi2k")
    # a label such as "semi2k+gmw+dabits" (compare, ml) names the arithmetic engine first: that
    # one is what the parties run (mpcrun --engine); the boolean engine comes with it
    run_engine = engine.split("+", 1)[0].split(" ", 1)[0]
    res, net = run(suite, party_main, op, size, parties, repeats, transport, profile, prefix, run_engine,
                   preprocessing)
    if transport == "procs-tcp" and profile == "loopback" and fields.get("engine"):
        fields = {**fields, "engine": f"{fields['engine']} tcp"}  # a row of its own beside the default
    if transport in (ENCRYPTED, SEALED):
        fields = {**fields, "engine": f"{engine}{ENCRYPTED_ENGINE if transport == ENCRYPTED else SEALED_ENGINE}"}
    common = {"op": op, "parties": parties, "n": size, "system": "tessera",
              "transport": transport_label(transport, profile), "encrypted": transport in (ENCRYPTED, SEALED),
              "rings_sealed": any(r.get("rings_sealed", False) for r in res),
              "backend": get_kernels().backend, **net, **fields,
              **{k: res[0][k] for k in ("max_abs_err", "max_rel_err", "n_off", "n_results") if k in res[0]}}
    off, on = summarize(res, repeats)
    return [
        {**common, "phase": "offline", "seconds": off, "bytes": max(r["dealer_bytes"] for r in res),
         "rounds": max(r["offline_rounds"] for r in res)},
        {**common, "phase": "online", "seconds": on, "bytes": max(r["online_bytes"] for r in res),
         "rounds": max(r["online_rounds"] for r in res)},
    ]


def summarize(res: list[dict], repeats: int) -> tuple[float, float]:
    """(offline, online) seconds: the median over repeats of the slowest party."""
    off = statistics.median(max(r["offline"][i] for r in res) for i in range(repeats))
    on = statistics.median(max(r["online"][i] for r in res) for i in range(repeats))
    return off, on
