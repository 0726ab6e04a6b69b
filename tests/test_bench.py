"""The benchmark driver (bench/): rendering, the CLI, the stamp. Fast, no timing asserts."""

from __future__ import annotations

import json
import pathlib
import sys
import textwrap

import numpy as np
import pytest

# bench/ is a folder of the repository, not part of the installed package
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from bench import __main__ as cli  # noqa: E402
from bench import render, stamp, suites  # noqa: E402

STAMP = {"machine": {"cpu": "Test CPU", "cores": 2, "memory_gb": 4.0}, "commit": {"sha": "abc123", "uncommitted": False},
         "versions": {"python": "3.11", "numpy": "2", "pyzmq": "27"}, "run_id": "r1", "timestamp": "2026-01-01T00:00:00Z"}


def _line(suite, **kw):
    return json.dumps({**STAMP, "settings": {"suite": suite, "quick": True, "profile": "loopback"}, "suite": suite, **kw})


@pytest.fixture
def synthetic(tmp_path):
    lines = [
        _line("arith", system="tessera", op="mul_trunc", engine="semi2k", parties=2, n=10000, phase="offline",
              seconds=0.002, bytes=1000, rounds=1),
        _line("arith", system="tessera", op="mul_trunc", engine="semi2k", parties=2, n=10000, phase="online",
              seconds=0.001, bytes=2000, rounds=2, round=0),
        _line("arith", system="tessera", op="mul_trunc", engine="semi2k", parties=2, n=10000, phase="online",
              seconds=0.003, bytes=2000, rounds=2, round=1),
        _line("arith", system="crypten", workload="W1", engine="ttp", parties=2, n=10000, phase="online",
              seconds=0.004, bytes=160000, rounds=1, max_abs_err=1.0, n_off=2, n_results=10000,
              security="semi-honest", preprocessing="TTP dealer"),
        _line("arith", system="mpyc", workload="W1", engine="shamir", parties=3, n=1000, phase="total",
              seconds=0.15, bytes=438000, rounds=None, max_abs_err=1e-4, n_off=0, n_results=1000),
        _line("arith", system="mpyc", workload="W2", status="failed", runner="mpyc:3p", reason="party 1 exited 1"),
        _line("kernels", op="matmul", engine="kernel", backend="c", parties=1, n=64, phase="local", seconds=0.01,
              status="ok"),
        _line("compare", system="tessera", runner="tessera:bench/compare.py", status="not-available",
              reason="bench/compare.py does not exist yet"),
    ]
    path = tmp_path / "results.jsonl"
    path.write_text("\n".join(lines) + "\nnot json\n")
    return path


def test_render_lists_every_system_and_the_unavailable(synthetic, tmp_path):
    readme = render.render([synthetic], readme=tmp_path / "README.md", plots_dir=tmp_path / "plots")
    text = readme.read_text()
    assert "make bench" in text
    assert "Test CPU, 2 cores" in text and "`abc123`" in text
    for system in ("| tessera |", "| crypten |", "| mpyc |"):
        assert system in text
    assert "bench/compare.py does not exist yet" in text and "not-available" in text
    assert "party 1 exited 1" in text and "failed" in text
    assert "ratio vs Tessera" in text and "off by > 2^-10" in text
    # the median of the two Tessera online lines (0.001, 0.003) and CrypTen's ratio against it
    w1 = text.split("### W1")[1].split("###")[0]
    assert "| 0.002 | 2 |" in w1
    assert "| 2x |" in w1
    assert "2 / 10,000" in w1
    # a kernel's matmul stays a kernel op (not W2), and a result line with status "ok" is a result
    kernels = text.split("## Suite `kernels`")[1].split("## Suite")[0]
    assert "### matmul" in kernels and "| 0.01 |" in kernels


def test_render_keeps_the_newest_run_per_suite(tmp_path):
    old = _line("arith", system="crypten", workload="W1", engine="ttp", parties=2, n=10, phase="online", seconds=9.0)
    new = json.loads(_line("arith", system="crypten", workload="W1", engine="ttp", parties=2, n=10, phase="online",
                           seconds=1.0))
    new.update(run_id="r2", timestamp="2026-02-01T00:00:00Z")
    path = tmp_path / "r.jsonl"
    path.write_text(old + "\n" + json.dumps(new) + "\n")
    rows = render.rows_for(render.latest_per_suite(render.load([path]))["arith"])
    assert [r["seconds"] for r in rows["W1"]] == [1.0]


def test_render_keeps_an_engine_the_newest_run_left_out(tmp_path):
    """A run of Tessera's OT lines alone keeps the dealer lines of the run before (noted)."""
    old = [_line("arith", system=s, workload="W1", engine=e, parties=2, n=10, phase="online", seconds=t)
           for s, e, t in (("tessera", "semi2k", 2.0), ("tessera", "spdz2k", 5.0), ("crypten", "ttp", 9.0))]
    new = [json.loads(_line("arith", system="tessera", workload="W1", engine=e, parties=2, n=10, phase="online",
                            seconds=t)) for e, t in (("semi2k ot", 3.0), ("spdz2k", 4.0))]
    for r in new:
        r.update(run_id="r2", timestamp="2026-02-01T00:00:00Z")
    path = tmp_path / "r.jsonl"
    path.write_text("\n".join([*old, *map(json.dumps, new)]) + "\n")
    lines = render.latest_per_suite(render.load([path]))["arith"]
    got = {(r["engine"], r["seconds"], "earlier run" in (r.get("notes") or "")) for r in lines}
    assert got == {("semi2k ot", 3.0, False), ("spdz2k", 4.0, False), ("semi2k", 2.0, True), ("ttp", 9.0, True)}
    assert all("another machine" not in (r.get("notes") or "") for r in lines)


def test_render_names_the_machine_of_an_earlier_run_when_it_differs(tmp_path):
    """Lines kept from an earlier run on another CPU say so, and the runs table names that CPU."""
    def line(engine, seconds, run, cpu_id, ts):
        rec = json.loads(_line("arith", system="tessera", workload="W1", engine=engine, parties=2, n=10,
                               phase="online", seconds=seconds))
        rec.update(run_id=run, timestamp=ts, machine={"cpu": "AMD EPYC", "cpu_id": cpu_id, "cores": 2})
        return json.dumps(rec)

    path = tmp_path / "r.jsonl"
    path.write_text("\n".join([line("semi2k ot", 3.0, "old", "family 25 model 17", "2026-01-01T00:00:00Z"),
                               line("semi2k", 1.0, "new", "family 23 model 49", "2026-02-01T00:00:00Z")]) + "\n")
    notes = {r["engine"]: r.get("notes") or "" for r in render.latest_per_suite(render.load([path]))["arith"]}
    assert "commit" in notes["semi2k ot"] and "another machine" in notes["semi2k ot"]
    assert "earlier run" not in notes["semi2k"]
    text = render.render([path], readme=tmp_path / "README.md", plots_dir=tmp_path / "plots").read_text()
    earlier = next(ln for ln in text.splitlines() if ln.startswith("| earlier run kept in `arith`"))
    assert "family 25 model 17" in earlier and "2026-01-01" in earlier
    assert "family 23 model 49" not in earlier


def test_render_names_the_machine_of_a_profile_run_from_another_machine(tmp_path):
    """A lan run made on another CPU than the newest run's (the page's machine row) names its CPU in its
    run row, and a run on the page's machine does not."""
    def line(profile, run, cpu_id, ts):
        rec = json.loads(_line("arith", system="tessera", workload="W1", engine="semi2k", parties=2, n=10,
                               phase="online", seconds=1.0))
        rec.update(run_id=run, timestamp=ts, settings={"suite": "arith", "profile": profile},
                   machine={"cpu": "AMD EPYC", "cpu_id": cpu_id, "cores": 2})
        return json.dumps(rec)

    path = tmp_path / "r.jsonl"
    path.write_text("\n".join([line("lan", "old", "family 23 model 49", "2026-01-01T00:00:00Z"),
                               line("loopback", "new", "family 25 model 17", "2026-02-01T00:00:00Z")]) + "\n")
    text = render.render([path], readme=tmp_path / "README.md", plots_dir=tmp_path / "plots").read_text()
    rows = {ln.split("|")[1].strip(): ln for ln in text.splitlines() if ln.startswith("| run `arith`")}
    assert "family 23 model 49" in rows["run `arith` on `lan`"]
    assert "family 23 model 49" not in rows["run `arith`"] and "family 25 model 17" not in rows["run `arith`"]


def test_render_gives_each_profile_its_own_table_and_ratios(tmp_path):
    """A lan run neither replaces the loopback run nor mixes into its ratios."""
    def line(profile, system, seconds, run):
        rec = json.loads(_line("arith", system=system, workload="W3", op="lt" if system == "tessera" else None,
                               engine="semi2k" if system == "tessera" else "ttp", parties=2, n=10,
                               phase="online", seconds=seconds))
        rec.update(run_id=run, settings={"suite": "arith", "profile": profile})
        return json.dumps(rec)

    path = tmp_path / "r.jsonl"
    path.write_text("\n".join([line("loopback", "tessera", 1.0, "a"), line("loopback", "crypten", 4.0, "a"),
                               line("lan", "tessera", 10.0, "b"), line("lan", "crypten", 20.0, "b")]) + "\n")
    rows = render.rows_for(render.latest_per_suite(render.load([path]))["arith"])
    assert sorted(rows) == ["W3", "W3@lan"]
    ratio = {(wl, r["system"]): r["ratio"] for wl, rs in rows.items() for r in rs}
    assert ratio[("W3", "crypten")] == 4.0 and ratio[("W3@lan", "crypten")] == 2.0
    text = render.render([path], readme=tmp_path / "README.md", plots_dir=tmp_path / "plots").read_text()
    assert "### W3: comparison x < y (lan profile)" in text and "run `arith` on `lan`" in text


def test_profile_all_runs_every_profile_then_renders_once(monkeypatch):
    runs, renders = [], []
    real = cli.cmd_run

    def fake(argv):
        if argv[argv.index("--profile") + 1] == "all":
            return real(argv)
        runs.append(argv)
        return 0

    monkeypatch.setattr(cli, "cmd_run", fake)
    monkeypatch.setattr(render, "render", lambda paths: renders.append(paths) or "README.md")
    assert real(["arith", "--profile", "all", "--quick"]) == 0
    assert [r[r.index("--profile") + 1] for r in runs] == list(suites.PROFILES)
    assert all("--no-render" in r and "--quick" in r for r in runs) and len(renders) == 1


def test_cli_rejects_unknown_suite(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["nosuch"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "unknown suite 'nosuch'" in err
    for suite in ("kernels", "net", "arith", "compare", "functions", "ml", "all"):
        assert suite in err


def test_cli_rejects_unknown_peer(capsys):
    with pytest.raises(SystemExit):
        cli.main(["arith", "--peers", "spdz"])
    assert "unknown peer" in capsys.readouterr().err


def test_stamp_fields_present():
    rec = stamp.stamp({"op": "mul", "seconds": 0.5, "timestamp": "mine"}, {"suite": "arith", "quick": True}, "run-1")
    assert {"cpu", "cores", "memory_gb"} <= set(rec["machine"])
    assert rec["machine"]["cores"] >= 1
    assert {"sha", "uncommitted"} <= set(rec["commit"])
    assert {"python", "numpy", "pyzmq"} <= set(rec["versions"])
    assert rec["settings"] == {"suite": "arith", "quick": True}
    assert rec["run_id"] == "run-1"
    assert rec["timestamp"] == "mine"  # the runner's own fields are kept
    assert rec["op"] == "mul"


def test_stamp_names_the_kernels_isa():
    """The stamp names the kernels' vector width (VMs report "AMD EPYC" for Zen 2 and Zen 4
    alike): the one the core dispatches to, not a second reading of the CPU flags."""
    from mpc._core import _matmul

    stamp.machine.cache_clear()
    assert stamp.machine()["isa"] == _matmul.matmul_isa() in _matmul.ISAS


def test_machine_line_names_the_kernels_isa():
    old = {**STAMP, "machine": {"cpu": "AMD EPYC", "cores": 2, "memory_gb": 4.0}, "timestamp": "2026-01-01T00:00:00Z"}
    recs = [{**old, "suite": "kernels", "op": "matmul", "backend": "c", "isa": "avx2"}]
    assert "kernels avx2" in render._machine_line(recs)[0]  # stamped before the field: from the kernel lines
    new = {**old, "machine": {**old["machine"], "cpu_id": "family 25 model 17", "isa": "avx512"}}
    line = render._machine_line([*recs, {**new, "timestamp": "2026-02-01T00:00:00Z"}])[0]
    assert "family 25 model 17" in line and "kernels avx512" in line


def test_missing_runners_become_not_available_lines(monkeypatch):
    monkeypatch.setitem(suites.SUITES, "fake", suites.SuiteSpec("bench/does_not_exist.py", ("W1",), "fake"))
    st = suites.Settings(suite="fake", peers=["crypten", "mpyc"], parties=[2], repeats=1)
    runners = suites.build_runners(st, lambda peer: (False, f"{peer} is not installed"))
    lines: list[dict] = []
    suites.execute(runners, st, lines.append)
    assert {r["system"] for r in lines} == {"tessera", "crypten", "mpyc"}
    assert all(r["status"] == "not-available" for r in lines)
    assert any("bench/does_not_exist.py does not exist yet" in r["reason"] for r in lines)
    assert any("crypten is not installed" in r["reason"] for r in lines)


def test_run_stamps_every_line(tmp_path, monkeypatch):
    script = tmp_path / "fake_runner.py"
    script.write_text(textwrap.dedent("""
        import argparse, json
        ap = argparse.ArgumentParser()
        ap.add_argument("--quick", action="store_true")
        ap.add_argument("--parties", type=int, nargs="+", default=[2])
        ap.add_argument("--engines", nargs="+", choices=["semi2k", "spdz2k"], default=["semi2k"])
        a = ap.parse_args()
        for p in a.parties:
            for e in a.engines:
                print(json.dumps({"op": "mul", "engine": e, "parties": p, "n": 10, "phase": "online",
                                  "seconds": 0.1, "quick": a.quick}))
        print("a line that is not JSON")
    """))
    monkeypatch.setitem(suites.SUITES, "fake", suites.SuiteSpec(str(script), (), "fake"))
    monkeypatch.setattr(suites, "SUITE_CHOICES", (*suites.SUITE_CHOICES, "fake"))
    out = tmp_path / "fake.jsonl"
    assert cli.main(["fake", "--quick", "--parties", "2,3", "--engines", "semi2k,spdz2k", "--peers", "none",
                     "--no-render", "--out", str(out)]) == 0
    recs = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["parties"], r["engine"]) for r in recs] == [(2, "semi2k"), (2, "spdz2k"), (3, "semi2k"), (3, "spdz2k")]
    for r in recs:
        assert set(stamp.STAMP_KEYS) <= set(r)
        assert r["settings"]["quick"] is True and r["settings"]["parties"] == [2, 3]
        assert r["suite"] == "fake" and r["system"] == "tessera" and r["quick"] is True


def test_mpyc_runner_sizes_or_reports_every_suite_workload():
    """MPyC's runner is handed every workload of every suite with peers (``make bench`` runs it on
    all of them): each gets sizes to run at, full and --quick, or a not-available reason; the nn
    suite's W7 and W8 once made its size lookup raise KeyError before anything ran."""
    sys.path.insert(0, str(suites.BENCH / "peers"))
    try:
        import mpyc_w
        import workloads as wl
    finally:
        sys.path.pop(0)
    for name, spec in suites.SUITES.items():
        ws = [wl.canonical(w) for w in spec.workloads]
        for quick in (False, True):
            sizes = mpyc_w.run_sizes(ws, quick, None)
            assert set(sizes) == {w for w in ws if w not in mpyc_w.NOT_AVAILABLE}, name
            assert all(sizes[w] and all(n > 0 for n in sizes[w]) for w in sizes), name
    assert {"W7", "W8"} <= set(mpyc_w.NOT_AVAILABLE)
    assert mpyc_w.run_sizes(["W5", "W7"], False, None) == {"W5": wl.sizes("W5", False)}
    assert mpyc_w.run_sizes(["W7"], False, '{"W1": [10]}') == {"W1": [10]}


def test_workloads_are_deterministic_and_scored():
    sys.path.insert(0, str(suites.BENCH / "peers"))
    try:
        import workloads as wl
    finally:
        sys.path.pop(0)
    a, b = wl.make_inputs("W1", 100), wl.make_inputs("W1", 100)
    assert (a["x"] == b["x"]).all()
    ref = wl.reference("W1", a)
    acc = wl.accuracy(ref + 2.0**-9, ref)
    assert acc["n_off"] == 100 and acc["max_abs_err"] == pytest.approx(2.0**-9)
    assert wl.accuracy(ref, ref)["n_off"] == 0


def test_runner_measures_the_ot_offline_phase_on_a_line_of_its_own(capsys):
    """``--preprocessing ot``: the parties make their own material (threads here), the records say
    so (engine "<engine> ot", preprocessing "ot"), the offline line counts the OT traffic and its
    rounds, and the online result is still exact."""
    from bench import arith

    arith.main(["--quick", "--parties", "2", "--engines", "semi2k", "spdz2k", "--transport", "local",
                "--preprocessing", "ot"])
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    skipped = [r for r in records if r.get("status") == "not-available"]
    assert len(skipped) == 1 and skipped[0]["engine"] == "spdz2k ot" and "AND gate" in skipped[0]["reason"]
    records = [r for r in records if r not in skipped]
    assert {r["op"] for r in records} == {"mul", "mul_trunc", "matmul"}
    for r in records:
        assert r["engine"] == "semi2k ot" and r["preprocessing"] == "ot" and r["n_off"] == 0
        if r["phase"] == "offline":
            # a Z_2^64 triple by OT: 800 bytes per party (SoftSpoken k = 2); a dealer sends 8 per triple
            assert r["bytes"] >= 500 * (r["n"] if r["op"] != "matmul" else r["n"] ** 2) and r["rounds"] >= 2


def test_offline_suite_measures_a_small_comparisons_material():
    """bench/offline.py's ``auth_lt``: the dealer-free material of ``x < 0`` on one element under
    spdz2k (its dry run's plan, made by OT). The comparison's AND layers ask for the one live lane
    of each word, so a party sends a few MB for it, not the ~280 MB of 64 lanes' gates; and
    ``auth_lt_demand``, the comparison with its material made on demand."""
    from bench import offline

    line = offline.measure("auth_lt", 1, 2, 1, "local", None)
    assert line["op"] == "offline_auth_lt" and line["engine"] == "spdz2k" and line["n"] == 1
    assert line["rounds"] > 0 and 10**6 < line["bytes"] < 20 * 10**6
    # the same comparison on 5 elements with nothing prefetched: its 6 AND layers from the gate
    # pool (one batch of about 35 rounds makes their gates, not one batch a layer: 274 rounds)
    line = offline.measure("auth_lt_demand", 5, 2, 1, "local", None)
    assert line["op"] == "offline_auth_lt_demand" and 50 < line["rounds"] < 200


def test_preprocessing_sources_run_the_tessera_runner_once_each(tmp_path, monkeypatch):
    script = tmp_path / "fake_runner.py"
    script.write_text(textwrap.dedent("""
        import argparse, json
        ap = argparse.ArgumentParser()
        ap.add_argument("--parties", type=int, nargs="+", default=[2])
        ap.add_argument("--preprocessing", choices=["dealer", "ot"], default="dealer")
        a = ap.parse_args()
        print(json.dumps({"op": "mul", "engine": "semi2k" + ("" if a.preprocessing == "dealer" else " ot"),
                          "parties": 2, "n": 10, "phase": "online", "seconds": 0.1}))
    """))
    monkeypatch.setitem(suites.SUITES, "fake", suites.SuiteSpec(str(script), (), "fake"))
    monkeypatch.setattr(suites, "SUITE_CHOICES", (*suites.SUITE_CHOICES, "fake"))
    out = tmp_path / "fake.jsonl"
    assert cli.main(["fake", "--parties", "2", "--peers", "none", "--preprocessing", "dealer,ot", "--repeats", "1", "--no-render",
                     "--out", str(out)]) == 0
    recs = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(r["engine"] for r in recs) == ["semi2k", "semi2k ot"]
    assert all(r["settings"]["preprocessing"] == ["dealer", "ot"] for r in recs)
    script.write_text("import json; print(json.dumps({'op': 'mul', 'phase': 'online', 'seconds': 0.1}))\n")
    suites._help_cache.clear()
    st = suites.Settings(suite="fake", peers=[], parties=[2], preprocessing=["ot"])
    (runner,) = suites.tessera_runner("fake", st)
    assert runner.argv is None and "no --preprocessing option" in runner.reason
    with pytest.raises(SystemExit):
        cli.main(["fake", "--preprocessing", "tee", "--no-render", "--out", str(out)])


def test_stamp_ignores_the_benchmark_outputs_whatever_their_porcelain_position(monkeypatch):
    """A modified result file is the first line of `git status --porcelain` (" M bench/results/..."):
    the run is still at a clean commit; a modified source file makes it uncommitted."""
    import subprocess
    import types

    def fake(status):
        def run(argv, **kw):
            out = "abc\n" if argv[1] == "rev-parse" else status
            return types.SimpleNamespace(returncode=0, stdout=out)
        return run

    for status, dirty in [(" M bench/results/paillier.jsonl\n?? bench/results/x.log.tmp\n", False),
                          (" M bench/results/paillier.jsonl\n M mpc/prg.py\n", True), ("", False)]:
        monkeypatch.setattr(subprocess, "run", fake(status))
        stamp.commit.cache_clear()
        assert stamp.commit() == {"sha": "abc", "uncommitted": dirty}, status
    stamp.commit.cache_clear()


def test_transports_add_the_sealed_rings_line_on_loopback_only():
    from bench.parties import transports

    assert transports("procs", "loopback", tcp=True, sealed=True) == ["procs", "procs-enc", "procs-enc-sealed",
                                                                       "procs-tcp"]
    assert transports("procs", "loopback", tcp=True) == ["procs", "procs-enc", "procs-tcp"]
    assert transports("procs", "lan", tcp=True, sealed=True) == ["procs", "procs-enc"]
    assert transports("procs-enc-sealed", "loopback") == ["procs-enc-sealed"]


@pytest.mark.parametrize("values, says", [([False], "unsealed (the payloads)"), ([None], "sealed (AES-GCM records)"),
                                          ([True, False], "unsealed (the payloads) in the runs at abc123 and "
                                                          "sealed (AES-GCM records) in the runs at abc123")])
def test_render_says_what_the_encrypted_rings_carried(tmp_path, values, says):
    """rings_sealed of the encrypted default's records (None: a record from before the field,
    when the rings were always sealed) decides the sentence under the tables."""
    lines = []
    for i, v in enumerate(values):
        extra = {} if v is None else {"rings_sealed": v}
        lines.append(_line("arith", system="tessera", op="mul", engine="semi2k encrypted", parties=2, n=10 + i,
                           phase="online", seconds=0.001, bytes=16, rounds=1,
                           transport="processes-zmq+shm-loopback-encrypted", encrypted=True, **extra))
    path = tmp_path / "results.jsonl"
    path.write_text("\n".join(lines) + "\n")
    text = render.render([path], readme=tmp_path / "README.md", plots_dir=tmp_path / "plots").read_text()
    assert f"Here the rings of those lines were {says}" in text
    plain = tmp_path / "plain.jsonl"
    plain.write_text(_line("arith", system="tessera", op="mul", engine="semi2k", parties=2, n=10, phase="online",
                           seconds=0.001, bytes=16, rounds=1, transport="processes-zmq+shm-loopback") + "\n")
    assert "Encrypted lines" not in render.render([plain], readme=tmp_path / "R2.md",
                                                  plots_dir=tmp_path / "plots").read_text()


@pytest.mark.processes
@pytest.mark.timeout(180)
def test_encrypted_lines_record_whether_their_rings_were_sealed():
    """The encrypted default's rings follow the host (--shm auto), the sealed line's are always
    sealed, the plaintext line's never; each record says so, on a line of its own."""
    from bench import arith
    from mpc.net import shm_ring

    got = {}
    for transport in ("procs", "procs-enc", "procs-enc-sealed"):
        (off, on) = arith.measure("mul", 10**4, 2, 1, transport, "loopback", "semi2k")
        assert off["rings_sealed"] == on["rings_sealed"] and on["n_off"] == 0
        got[transport] = (on["engine"], on["encrypted"], on["rings_sealed"])
    assert got == {"procs": ("semi2k", False, False),
                   "procs-enc": ("semi2k encrypted", True, shm_ring.ptrace_restricted()),
                   "procs-enc-sealed": ("semi2k encrypted sealed", True, True)}


def test_kernels_bauth_group_times_every_bit_kernel_path(capsys, monkeypatch):
    """The bauth group checks each instruction set against the portable path, then prints a line
    per kernel and path (and the light AND's memory reference)."""
    # bench.kernels pins OpenBLAS to one thread through the environment, which later tests'
    # subprocesses would inherit: set it here, so that the test's end restores the environment
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")
    from bench import kernels
    from mpc._core import _gf2k

    kernels.bench_bauth(np.random.default_rng(0), 64, 1)
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    isas = _gf2k.gf2k_isas()
    got = {(r["op"], r["backend"]) for r in lines}
    for op in ("bauth_and_light", "bauth_and", "bauth_and_public_light", "bauth_and_xor_public_light",
               "bauth_xor_public", "bauth_lt_pairs_light", "gf64_fold"):
        assert {(op, f"c-{isa}") for isa in isas} <= got
    assert ("bauth_and_light", "read-2-records") in got
    assert all(r["n"] == 64 and r["ns_per_word"] > 0 for r in lines)
    assert _gf2k.gf2k_isa() == isas[0]  # the automatic choice restored


def test_timed_spdz2k_runs_check_no_earlier_runs_openings(monkeypatch):
    """bench.parties.time_phases checks the untimed runs' openings before each round: a timed
    product forces no MAC check of openings it did not make (here a check every 15 openings,
    a product of 5 elements opening 10: the last of 2 timed rounds would otherwise hold one)."""
    import threading

    from bench import parties
    from mpc.engines import spdz2k
    from mpc.testing import run_local

    monkeypatch.setattr(spdz2k, "CHECK_EVERY", 15)
    barrier = threading.Barrier(2)

    def main(p):
        x = p.input(np.arange(5.0) if p.pid == 0 else None, owner=0, shape=(5,))
        y = p.input(np.arange(5.0) if p.pid == 1 else None, owner=1, shape=(5,))
        return parties.time_phases(p, lambda a, b: a * b, (x, y), 2, barrier.wait)

    for out in run_local(main, 2, engine="spdz2k", preprocessing="dealer", timeout=120):
        assert out["online_rounds"] == 1  # the product's one exchange; a check adds 3


def test_timed_runs_make_deferred_products():
    """bench.parties.time_phases makes the shares of what the timed run returns: a masked2k
    product comes back deferred (its finishing pass made on first use), and that pass is part
    of the online time, not of the reveal after it."""
    import threading

    from bench import parties
    from mpc.engines.base import Deferred
    from mpc.testing import run_local

    barrier = threading.Barrier(2)

    def main(p):
        x = p.input(np.arange(5.0) if p.pid == 0 else None, owner=0, shape=(5,))
        y = p.input(np.arange(5.0) if p.pid == 1 else None, owner=1, shape=(5,))
        made = []

        def product(a, b):
            z = a * b
            made.append(z)
            return [(z,)]

        parties.time_phases(p, product, (x, y), 2, barrier.wait)
        untouched = x * y
        return [type(z._held) for z in made], type(untouched._held)

    for held, untouched in run_local(main, 2, engine="masked2k", preprocessing="dealer", timeout=120):
        assert untouched is Deferred  # what the bench must settle
        assert held.count(np.ndarray) == 3  # the 3 online runs' (the recording and dry runs' stay deferred)


def test_net_worker_gets_its_secret_key_in_a_private_file_not_on_the_command_line(monkeypatch):
    """bench/net.py hands each party process its CURVE secret key in a mode-0600 spec file,
    never in argv (which every local user can read), and only its own: no peer's secret is in
    its spec. The encrypted exchange still runs with the keys read back from the file."""
    from bench import net as netbench

    seen = []
    real = netbench.run_parties

    def spy(nproc, command, *args, **kwargs):
        def wrapped(i, address_of):
            argv, env = command(i, address_of)
            path = pathlib.Path(argv[-1])
            seen.append((i, argv, path.stat().st_mode & 0o777, json.loads(path.read_text())))
            return argv, env

        return real(nproc, wrapped, *args, **kwargs)

    monkeypatch.setattr(netbench, "run_parties", spy)
    (row,) = netbench.measure(["tessera-encrypted"], "exchange", 2, 1 << 16, 2)
    assert row["encrypted"] and row["bytes"] >= 1 << 16 and row["seconds"] > 0
    assert sorted(i for i, *_ in seen) == [0, 1]
    secrets = {i: spec["wiring"]["tessera-encrypted"]["keys"][i][1] for i, _, _, spec in seen}
    assert all(secrets.values()) and len(set(secrets.values())) == 2
    for i, argv, mode, spec in seen:
        keys = spec["wiring"]["tessera-encrypted"]["keys"]
        assert mode == 0o600
        assert [k[1] is None for k in keys] == [j != i for j in range(2)]
        assert not any(s in a for s in secrets.values() for a in argv)


def test_engine_ratio_times_both_engines_and_judges_the_target(capsys):
    """bench/engine_ratio.py: every workload it names runs under both engines in the same
    call, the ratios are those of the engines' times, and a full-size line carries #14's
    target (a quick one none)."""
    from bench import engine_ratio

    engine_ratio.main(["--quick", "--transport", "local", "--repeats", "1", "--rounds", "1", "--ops", "W1", "W5"])
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["workload"], r["op"], r["n"]) for r in lines] == [("W1", "mul", 10**4), ("W5", "W5", 64)]
    for r in lines:
        semi, spdz = r["semi2k"]["median_s"], r["spdz2k"]["median_s"]
        assert semi > 0 and spdz > 0
        assert r["ratio_median"] == pytest.approx(spdz / semi)
        assert r["ratio_min"] == pytest.approx(r["spdz2k"]["min_s"] / r["semi2k"]["min_s"])
        assert r["target"] is None and r["met"] is None


@pytest.mark.parametrize(("factor", "met"), [(2.9, True), (3.1, False)])
def test_engine_ratio_judges_a_full_size_line_by_its_median(monkeypatch, factor, met):
    from bench import engine_ratio

    seen = []

    def fake_run(suite, party_main, op, size, parties, repeats, transport, profile, engine):
        seen.append(profile)
        base = [0.010, 0.011, 0.030][:repeats]  # one slow outlier: the median ignores it
        scale = factor if engine == "spdz2k" else 1.0
        return [{"online": [t * scale for t in base]} for _ in range(parties)], {}

    monkeypatch.setattr(engine_ratio, "run", fake_run)
    r = engine_ratio.measure("W3", 2, 3, 1, "local")
    assert r["n"] == 10**5 and r["target"] == 3.0
    assert r["ratio_median"] == pytest.approx(factor) and r["met"] is met
    w1t = engine_ratio.measure("W1t", 2, 3, 1, "procs", profile="lan")
    assert w1t["target"] is None and w1t["met"] is None
    assert r["profile"] == "loopback" and w1t["profile"] == "lan"  # each line says its network
    assert seen == ["loopback"] * 2 + ["lan"] * 2  # and both engines ran on it
