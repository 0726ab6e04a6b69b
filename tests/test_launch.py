"""Real party processes over ZeroMQ, started through ``mpcrun`` (``python -m mpc run``)."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mpc.launch.keygen import generate_keys, write_hosts
from mpc.launch.local import free_port_block

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "tests" / "scripts" / "secure_sum.py"
VALUES = [5, -12, 1000]

pytestmark = pytest.mark.processes


def _env(**extra):
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("MPC_") and k not in ("RANK", "WORLD_SIZE")
    }
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    env.update(extra)
    return env


def _values(tmp_path, values=VALUES):
    for i, v in enumerate(values):
        (tmp_path / f"value_{i}.txt").write_text(f"{v}\n")


def _mpc(*args):
    """The argv of ``python -m mpc ARGS``."""
    return [sys.executable, "-m", "mpc", *map(str, args)]


def _run(argv, timeout, cwd=None, env=None):
    return subprocess.run(argv, cwd=cwd, env=env or _env(), capture_output=True, text=True, timeout=timeout)


def mpcrun(tmp_path, *args, timeout=40, env=None):
    """Run ``python -m mpc run ...`` in tmp_path; returns (completed process, seconds)."""
    start = time.monotonic()
    proc = _run(_mpc("run", *args), timeout, cwd=tmp_path, env=env)
    return proc, time.monotonic() - start


def spawn(tmp_path, *args, env):
    """Start ``python -m mpc run ...`` in tmp_path (as on a host of its own), output piped."""
    return subprocess.Popen(
        _mpc("run", *args), cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def sum_args(*options, fail=None):
    """mpcrun arguments: ``options``, logs in ./logs, the secure-sum script on value_{pid}.txt,
    and its ``--fail`` injection when given."""
    return [*options, "--log-dir", "logs", SCRIPT, "value_{pid}.txt", *(("--fail", fail) if fail else ())]


def _lines(text, prefix):
    return [line[len(prefix) :] for line in text.splitlines() if line.startswith(prefix)]


@pytest.mark.timeout(60)
def test_secure_sum_three_parties_curve_with_dealer(tmp_path):
    _values(tmp_path)
    proc, _ = mpcrun(tmp_path, *sum_args("-n", 3))
    assert proc.returncode == 0, proc.stderr
    assert "CURVE-encrypted" in proc.stderr
    for i in range(3):
        assert _lines(proc.stdout, f"[P{i}] ") == [
            f"argv=['value_{i}.txt']",
            f"party {i}: sum = {sum(VALUES)}",
        ]
        log = (tmp_path / "logs" / f"party{i}.log").read_text()
        assert f"party {i}: sum = {sum(VALUES)}" in log and "[P" not in log
    assert (tmp_path / "logs" / "dealer.log").exists()


@pytest.mark.timeout(60)
def test_plaintext_with_stats_table(tmp_path):
    _values(tmp_path)
    proc, _ = mpcrun(tmp_path, *sum_args("-n", 2, "--insecure-plaintext", "--no-dealer", "--stats"))
    assert proc.returncode == 0, proc.stderr
    assert "plaintext" in proc.stderr
    assert f"[P1] party 1: sum = {VALUES[0] + VALUES[1]}" in proc.stdout
    assert "MPC-STATS" not in proc.stdout  # collected, not echoed
    assert "MPC-STATS" in (tmp_path / "logs" / "party0.log").read_text()
    table = proc.stdout[proc.stdout.index("mpcrun: traffic per party") :].splitlines()
    assert table[1].split()[:3] == ["party", "bytes", "sent"]
    rows = {line.split()[1]: line.split()[2:] for line in table[2:4]}
    assert set(rows) == {"0", "1"}
    for cells in rows.values():
        sent, received, msgs_sent, msgs_received, rounds = (int(c.replace(",", "")) for c in cells)
        assert sent > 0 and received == sent and msgs_sent == msgs_received == 2 and rounds == 2


@pytest.mark.timeout(60)
def test_party_error_stops_the_run_and_names_the_party(tmp_path):
    _values(tmp_path)
    proc, took = mpcrun(tmp_path, *sum_args("-n", 3, "--no-dealer", "--timeout", 20, fail="1:error"))
    assert proc.returncode == 1
    assert "[P1] party 1: ProtocolError: injected failure for the launcher test" in proc.stderr
    assert "Traceback" not in proc.stderr  # an expected error is one line
    assert proc.stderr.rstrip().endswith("mpcrun: party 1 failed first (exit code 1)")
    for i in range(3):  # tails of every log
        assert f"mpcrun: ---- party {i} (" in proc.stderr
    for i in (0, 2):  # stopped by mpcrun, or already told by the channel that party 1 went away
        log = (tmp_path / "logs" / f"party{i}.log").read_text()
        assert f"mpcrun: ---- party {i} (killed by SIGTERM)" in proc.stderr or (
            f"party {i}: PeerTimeout" in log and "party 1" in log
        ), proc.stderr
    assert took < 15  # the others were stopped, not left to wait for their 20 s deadline


@pytest.mark.timeout(60)
def test_bug_prints_a_traceback(tmp_path):
    _values(tmp_path)
    proc, _ = mpcrun(tmp_path, *sum_args("-n", 3, "--no-dealer", fail="2:bug"))
    assert proc.returncode == 1
    assert "[P2] Traceback (most recent call last):" in proc.stderr
    assert "[P2] party 2: RuntimeError: injected bug for the launcher test (unexpected error" in proc.stderr
    assert "mpcrun: party 2 failed first (exit code 1)" in proc.stderr


@pytest.mark.timeout(60)
def test_killed_party_fails_the_run_quickly(tmp_path):
    _values(tmp_path)
    proc, took = mpcrun(tmp_path, *sum_args("-n", 3, "--no-dealer", "--timeout", 20, fail="1:kill"))
    assert proc.returncode == 128 + 9
    assert proc.stderr.rstrip().endswith("mpcrun: party 1 failed first (killed by SIGKILL)")
    assert took < 15


@pytest.mark.timeout(60)
def test_silent_party_gives_peer_timeout_within_the_deadline(tmp_path):
    _values(tmp_path)
    # --connect-timeout: start-up under load may be slow; the deadline under test is the receive
    options = ("-n", 3, "--no-dealer", "--timeout", 2, "--connect-timeout", 30, "--grace", 1)
    proc, took = mpcrun(tmp_path, *sum_args(*options, fail="1:hang"))
    assert proc.returncode == 3  # the exit status of a PeerTimeout
    first = proc.stderr.rstrip().splitlines()[-1]
    assert first in (
        "mpcrun: party 0 failed first (exit code 3)",
        "mpcrun: party 2 failed first (exit code 3)",
    )
    pid = first.split()[2]
    timeout_line = [
        line for line in proc.stderr.splitlines() if line.startswith(f"[P{pid}] party {pid}: PeerTimeout")
    ]
    assert timeout_line and "1" in timeout_line[0].split("PeerTimeout", 1)[1]  # names the silent party
    assert took < 15


@pytest.mark.timeout(60)
def test_multi_host_mode_peer_timeout_names_the_dead_party(tmp_path):
    """One ``mpcrun --pid i --hosts`` per party (as on separate hosts), CURVE keys from keygen."""
    _values(tmp_path)
    base = free_port_block(3)
    hosts = write_hosts(
        tmp_path / "hosts.toml", "multi-host-test", [f"127.0.0.1:{base + i}" for i in range(3)]
    )
    generate_keys(hosts)
    start = time.monotonic()
    options = ("--hosts", "hosts.toml", "--timeout", 3, "--connect-timeout", 30)
    procs = [spawn(tmp_path, *sum_args("--pid", i, *options, fail="1:kill"), env=_env()) for i in range(3)]
    results = [p.communicate(timeout=40) for p in procs]
    took = time.monotonic() - start
    assert procs[1].returncode == 128 + 9
    assert "mpcrun: party 1 failed (killed by SIGKILL)" in results[1][1]
    for i in (0, 2):
        assert procs[i].returncode == 3, results[i][1]
        line = [x for x in results[i][1].splitlines() if x.startswith(f"[P{i}] party {i}: PeerTimeout")]
        assert line and "party 1" in line[0], results[i][1]
        assert "Traceback" not in results[i][1]
    assert took < 20


@pytest.mark.timeout(60)
def test_torchrun_variables(tmp_path):
    _values(tmp_path)
    base = free_port_block(5)
    procs = [
        spawn(
            tmp_path,
            *sum_args("--preprocessing", "local"),
            env=_env(RANK=str(r), WORLD_SIZE="2", MASTER_ADDR="127.0.0.1", MASTER_PORT=str(base - 1)),
        )
        for r in range(2)
    ]
    results = [p.communicate(timeout=40) for p in procs]
    for r, (out, err) in enumerate(results):
        assert procs[r].returncode == 0, err
        assert f"[P{r}] party {r}: sum = {VALUES[0] + VALUES[1]}" in out


@pytest.mark.timeout(30)
def test_script_without_launcher_explains_how_to_launch(tmp_path):
    proc = _run([sys.executable, str(SCRIPT), "x"], 20, cwd=tmp_path)
    assert proc.returncode == 2
    assert "launch this script with `mpcrun -n N" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.timeout(30)
def test_malformed_hosts_file_is_a_clear_error(tmp_path):
    (tmp_path / "hosts.toml").write_text(
        '[[party]]\naddress = "127.0.0.1:5000"\n[[party]]\naddress = "nope"\n'
    )
    proc, _ = mpcrun(tmp_path, "--pid", 0, "--hosts", "hosts.toml", SCRIPT, "x")
    assert proc.returncode == 2
    assert "hosts.toml, line 4: party 1: address: malformed address 'nope'" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.timeout(30)
def test_port_in_use_is_a_clear_error(tmp_path):
    _values(tmp_path)
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        write_hosts(tmp_path / "hosts.toml", "busy", [f"127.0.0.1:{port}", f"127.0.0.1:{free_port_block(1)}"])
        proc, _ = mpcrun(tmp_path, *sum_args("--pid", 0, "--hosts", "hosts.toml", "--timeout", 2))
    assert proc.returncode == 2, proc.stderr
    line = [x for x in proc.stderr.splitlines() if x.startswith("[P0] party 0: ConfigError:")]
    assert line and f"cannot listen on tcp://127.0.0.1:{port}" in line[0] and "already in use" in line[0]
    assert "Traceback" not in proc.stderr


@pytest.mark.timeout(60)
def test_selfcheck_passes():
    ref = _run(_mpc("selfcheck", "--backend", "ref", "--cases", 5), 50)
    assert ref.returncode == 0, ref.stdout + ref.stderr  # the checker's own argument generators are valid
    proc = _run(_mpc("selfcheck", "--cases", 10), 50)
    if "not built" in proc.stderr:
        pytest.skip("compiled kernels are not built (make build)")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "selfcheck: OK" in proc.stdout


@pytest.mark.timeout(30)
def test_supervisor_treats_helpers_as_helpers(tmp_path):
    """A helper (the dealer) neither fails the run when it exits nor outlives the parties."""
    from mpc.launch.local import ProcSpec, Supervisor, child_env

    def spec(name, label, code, helper=False):
        argv = [sys.executable, "-c", code]
        return ProcSpec(name, label, argv, child_env(), tmp_path / f"{label}.log", helper=helper)

    class Sink:
        def __init__(self):
            self.text = ""

        def write(self, s):
            self.text += s

        def flush(self):
            pass

    out, err = Sink(), Sink()
    specs = [
        spec("party 0", "P0", "import time; time.sleep(0.3); print('done 0')"),
        spec("party 1", "P1", "print('done 1')"),
        spec("dealer", "D", "import time; print('serving', flush=True); time.sleep(600)", helper=True),
        spec("other helper", "H", "import sys; sys.exit(5)", helper=True),
    ]
    start = time.monotonic()
    assert Supervisor(specs, grace=1, stdout=out, stderr=err).run() == 0
    assert time.monotonic() - start < 10
    assert "[P0] done 0" in out.text and "[P1] done 1" in out.text and "[D] serving" in out.text
    assert "mpcrun: other helper exited (exit code 5)" in err.text
    assert (tmp_path / "D.log").read_text() == "serving\n"


@pytest.mark.timeout(10)
def test_stats_table_format():
    from mpc.launch.cli import stats_table

    total = {
        "bytes_sent": 1234567,
        "bytes_received": 5,
        "messages_sent": 2,
        "messages_received": 3,
        "rounds": 4,
    }
    lines = stats_table(
        {"party 0": {"total": total, "dealer": {"bytes_received": 99}}}, ["party 0", "party 1"]
    )
    assert lines[1].split() == [
        "party",
        "bytes",
        "sent",
        "bytes",
        "received",
        "messages",
        "sent",
        "messages",
        "received",
        "rounds",
        "from",
        "dealer",
    ]
    assert lines[2].split() == ["party", "0", "1,234,567", "5", "2", "3", "4", "99"]
    assert lines[3].split() == ["party", "1", "-", "-", "-", "-", "-", "-"]
    assert "no stats from party 1" in lines[4]
