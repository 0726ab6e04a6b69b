"""Real party processes over ZeroMQ, started through ``mpcrun`` (``python -m mpc run``)."""

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from mpc.errors import ConfigError
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


def children(pid):
    """The pids of the processes whose parent is ``pid`` (Linux /proc)."""
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(entry))
    return out


def alive(pid):
    """Whether ``pid`` is a running process (not gone, not a zombie)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def cmdline(pid):
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return []


def wait_for_lines(proc, wanted, timeout=40):
    """Read ``proc``'s stdout until every line in ``wanted`` appeared; returns what was read."""
    seen, left = [], set(wanted)
    deadline = time.monotonic() + timeout
    while left and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:  # mpcrun ended: say why (its stderr) rather than only what is missing
            proc.wait(timeout=30)
            seen.append(f"<exit {proc.returncode}; stderr: {proc.stderr.read()[-2000:] if proc.stderr else ''}>")
            break
        seen.append(line.rstrip("\n"))
        left.discard(seen[-1])
    assert not left, f"never printed {sorted(left)}; got {seen}"
    return seen


def kill_all(pids):
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


# A deadline far longer than the tests' own timeouts: a run that ends before it was stopped, not
# left to time out (the tests then assert what ended it, not how fast).
LONG = 300


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
    proc, _ = mpcrun(tmp_path, *sum_args("-n", 3, "--no-dealer", "--timeout", LONG, fail="1:error"))
    assert proc.returncode == 1
    assert "[P1] party 1: ProtocolError: injected failure for the launcher test" in proc.stderr
    assert "Traceback" not in proc.stderr  # an expected error is one line
    assert proc.stderr.rstrip().endswith("mpcrun: party 1 failed first (exit code 1)")
    for i in range(3):  # tails of every process
        assert f"mpcrun: ---- party {i} (" in proc.stderr
    for i in (0, 2):  # stopped by mpcrun, or already told by the channel that party 1 went away
        log = (tmp_path / "logs" / f"party{i}.log").read_text()
        assert f"mpcrun: ---- party {i} (killed by SIGTERM)" in proc.stderr or (
            f"party {i}: PeerTimeout" in log and "party 1" in log
        ), proc.stderr


@pytest.mark.timeout(60)
@pytest.mark.parametrize("flag, value", [("--timeout", "-1"), ("--spin-us", "-5"), ("--ot-k", "0"),
                                         ("MPC_TIMEOUT", "-3")])
def test_a_bad_option_is_named_as_typed_before_any_process_starts(tmp_path, flag, value):
    """mpcrun -n refuses a bad option once, before starting a process, naming it as the user gave
    it: the flag as typed (the children receive it as an MPC_* variable, which the message used to
    name), a variable by its name."""
    _values(tmp_path)
    env = _env(**({flag: value} if flag.startswith("MPC_") else {}))
    options = () if flag.startswith("MPC_") else (flag, value)
    proc, _ = mpcrun(tmp_path, *sum_args("-n", 2, *options), env=env)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith(f"mpcrun: {flag}: expected"), proc.stderr
    assert "[P0]" not in proc.stderr and not (tmp_path / "logs").exists()  # nothing was started


@pytest.mark.timeout(60)
def test_expected_error_from_the_scripts_own_call_is_one_line(tmp_path):
    """A ConfigError the script's own call caused: one line naming the argument on the console,
    no traceback there; the traceback is in the party's log."""
    _values(tmp_path)
    proc, _ = mpcrun(tmp_path, *sum_args("-n", 2, "--no-dealer", "--timeout", LONG, fail="1:usage"))
    assert proc.returncode == 2
    line = "party 1: ConfigError: owner: expected a party id in [0, 2) or None, got 7"
    assert f"[P1] {line}" in proc.stderr.splitlines()
    assert "Traceback" not in proc.stderr and "unexpected" not in proc.stderr and "MPC-LOG" not in proc.stderr
    assert proc.stderr.rstrip().endswith("mpcrun: party 1 failed first (exit code 2)")
    log = (tmp_path / "logs" / "party1.log").read_text().splitlines()  # stdout and stderr lines, each in order
    assert "Traceback (most recent call last):" in log and line in log and "MPC-LOG" not in "".join(log)
    assert log.index("Traceback (most recent call last):") < log.index(line)
    assert any("secure_sum.py" in x for x in log[log.index("Traceback (most recent call last):") :])


@pytest.mark.timeout(60)
def test_bug_prints_a_traceback(tmp_path):
    _values(tmp_path)
    proc, _ = mpcrun(tmp_path, *sum_args("-n", 3, "--no-dealer", fail="2:bug"))
    assert proc.returncode == 1
    assert "[P2] Traceback (most recent call last):" in proc.stderr
    assert "[P2] party 2: RuntimeError: injected bug for the launcher test (unexpected error" in proc.stderr
    assert "mpcrun: party 2 failed first (exit code 1)" in proc.stderr


@pytest.mark.timeout(60)
def test_killed_party_fails_the_run_at_once(tmp_path):
    _values(tmp_path)
    proc, _ = mpcrun(tmp_path, *sum_args("-n", 3, "--no-dealer", "--timeout", LONG, fail="1:kill"))
    assert proc.returncode == 128 + 9
    assert proc.stderr.rstrip().endswith("mpcrun: party 1 failed first (killed by SIGKILL)")


def _start_hanging_run(tmp_path, n=3):
    """``mpcrun -n N`` with the dealer and CURVE keys, party 1 hanging after the first round (the
    others wait for it with a long deadline); returns (mpcrun, its children) once all started."""
    _values(tmp_path)
    args = sum_args("-n", n, "--timeout", LONG, "--grace", 2, fail="1:hang")
    proc = subprocess.Popen(
        _mpc("run", *args), cwd=tmp_path, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    wait_for_lines(proc, [f"[P{i}] argv=['value_{i}.txt', '--fail', '1:hang']" for i in range(n)])
    return proc, children(proc.pid)


@pytest.mark.timeout(90)
def test_killed_dealer_aborts_the_run_at_once_naming_it(tmp_path):
    proc, kids = _start_hanging_run(tmp_path)
    try:
        (dealer,) = [k for k in kids if cmdline(k)[-2:] == [b"dealer", b""]]
        os.kill(dealer, signal.SIGKILL)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 128 + 9, err
        assert err.rstrip().endswith("mpcrun: dealer failed first (killed by SIGKILL)")
        assert "mpcrun: ---- dealer (killed by SIGKILL)" in err
        assert not [k for k in kids if alive(k)]
    finally:
        kill_all([proc.pid, *kids])


@pytest.mark.timeout(90)
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_signals_stop_every_child_and_remove_the_keys(tmp_path, sig):
    """What ``timeout``, CI runners, batch schedulers and a closed terminal send: every party and
    the dealer are stopped, and the temporary folder with the ephemeral CURVE secret keys is gone."""
    proc, kids = _start_hanging_run(tmp_path)
    try:
        assert len(kids) == 4  # 3 parties and the dealer
        env = dict(
            item.split(b"=", 1) for item in Path(f"/proc/{kids[0]}/environ").read_bytes().split(b"\0") if b"=" in item
        )
        keys = Path(env[b"MPC_HOSTS"].decode()).parent
        assert sorted(p.name for p in keys.iterdir() if p.name.endswith(".key"))  # secret keys are there
        os.kill(proc.pid, sig)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 128 + sig, err
        assert f"mpcrun: {signal.Signals(sig).name} received; stopping every process" in err
        assert not [k for k in kids if alive(k)]
        assert not keys.exists()
    finally:
        kill_all([proc.pid, *kids])


@pytest.mark.timeout(60)
def test_silent_party_gives_peer_timeout_within_the_deadline(tmp_path):
    _values(tmp_path)
    # --connect-timeout: start-up under load may be slow; the deadline under test is the receive
    options = ("-n", 3, "--no-dealer", "--timeout", 2, "--connect-timeout", 30, "--grace", 1)
    proc, _ = mpcrun(tmp_path, *sum_args(*options, fail="1:hang"))
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


def _hosts_with_dealer(tmp_path, n, name):
    base = free_port_block(2 * n)
    hosts = write_hosts(
        tmp_path / "hosts.toml", name, [f"127.0.0.1:{base + i}" for i in range(n)], f"127.0.0.1:{base + n}"
    )
    return hosts, base + n


@pytest.mark.timeout(90)
def test_multi_host_mode_a_dead_party_is_named_and_the_dealer_ends(tmp_path):
    """One ``mpcrun --pid`` per party and one for the dealer (as on separate hosts), CURVE keys from
    keygen, long deadlines: party 1 dies; party 0 names it, and the dealer, whose last party is
    gone, ends too instead of waiting out its hour-long idle deadline."""
    _values(tmp_path)
    hosts, _ = _hosts_with_dealer(tmp_path, 2, "multi-host-test")
    generate_keys(hosts)
    options = ("--hosts", "hosts.toml", "--timeout", LONG, "--connect-timeout", 60)
    procs = [spawn(tmp_path, *sum_args("--pid", i, *options, fail="1:kill"), env=_env()) for i in range(2)]
    procs.append(spawn(tmp_path, "--pid", "dealer", *options, "--log-dir", "logs", env=_env()))
    try:
        results = [p.communicate(timeout=60) for p in procs]
    finally:  # only when the test failed: what is left of the run
        kill_all([k for p in procs for k in [*children(p.pid), p.pid]])
    assert procs[1].returncode == 128 + 9
    assert "mpcrun: party 1 failed (killed by SIGKILL)" in results[1][1]
    assert procs[0].returncode == 3, results[0][1]
    assert "[P0] party 0: PeerTimeout: party 0: party 1 has disconnected" in results[0][1].splitlines()
    assert procs[2].returncode == 3, results[2][1]
    assert "[D] dealer: PeerTimeout: dealer: party 1 has disconnected" in results[2][1].splitlines()
    assert "Traceback" not in results[0][1] + results[2][1]


@pytest.mark.timeout(60)
def test_a_port_held_by_a_stale_dealer_is_a_config_error(tmp_path):
    """A dealer of an earlier run still holds the ports: the new dealer fails at once with exit
    code 2 and a message naming the port; so does a party whose port is taken."""
    hosts, dealer_port = _hosts_with_dealer(tmp_path, 2, "stale")
    options = ("--pid", "dealer", "--hosts", "hosts.toml", "--timeout", LONG, "--connect-timeout", LONG)
    stale = spawn(tmp_path, *options, env=_env())
    try:
        deadline = time.monotonic() + 30
        while True:  # until the stale dealer listens
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", dealer_port)) == 0:
                    break
            assert time.monotonic() < deadline and stale.poll() is None
            time.sleep(0.05)
        proc, _ = mpcrun(tmp_path, *options)
    finally:
        kids = children(stale.pid)
        stale.send_signal(signal.SIGTERM)  # mpcrun stops its dealer
        stale.communicate(timeout=30)
        kill_all(kids)
    assert proc.returncode == 2, proc.stderr
    line = [x for x in proc.stderr.splitlines() if x.startswith("[D] dealer: ConfigError: dealer cannot listen")]
    assert line, proc.stderr
    ports = {f"tcp://127.0.0.1:{dealer_port + i}: address already in use" for i in range(2)}  # one per party
    assert any(port in line[0] for port in ports), line
    assert proc.stderr.rstrip().endswith("mpcrun: dealer failed (exit code 2)")
    assert "Traceback" not in proc.stderr


@pytest.mark.timeout(60)
def test_torchrun_variables(tmp_path):
    _values(tmp_path)
    base = free_port_block(5)
    procs = [
        spawn(
            tmp_path,
            *sum_args("--preprocessing", "local", "--insecure-local-preprocessing"),
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


class Sink:
    def __init__(self):
        self.text = ""

    def write(self, s):
        self.text += s

    def flush(self):
        pass


def _spec(tmp_path, name, label, code, helper=False):
    from mpc.launch.local import ProcSpec, child_env

    argv = [sys.executable, "-c", code]
    return ProcSpec(name, label, argv, child_env(), tmp_path / f"{label}.log", helper=helper)


@pytest.mark.timeout(30)
def test_supervisor_helpers_end_with_the_parties(tmp_path):
    """A helper that exits 0 is done; one still running when the parties finish is stopped."""
    from mpc.launch.local import Supervisor

    specs = [
        _spec(tmp_path, "party 0", "P0", "import time; time.sleep(0.3); print('done 0')"),
        _spec(tmp_path, "party 1", "P1", "print('done 1')"),
        _spec(tmp_path, "dealer", "D", "import time; print('serving', flush=True); time.sleep(600)", helper=True),
        _spec(tmp_path, "other helper", "H", "print('finished early')", helper=True),
    ]
    out, err = Sink(), Sink()
    sup = Supervisor(specs, grace=1, stdout=out, stderr=err)
    assert sup.run() == 0 and sup.first_failure is None
    assert "[P0] done 0" in out.text and "[P1] done 1" in out.text and "[D] serving" in out.text
    assert (tmp_path / "D.log").read_text() == "serving\n"
    assert "failed" not in err.text


@pytest.mark.timeout(60)
def test_supervisor_a_failing_helper_fails_the_run(tmp_path):
    """A helper (the dealer) that fails while the parties run stops them at once and is named."""
    from mpc.launch.local import Supervisor

    specs = [
        _spec(tmp_path, "party 0", "P0", "import time; time.sleep(600)"),
        _spec(tmp_path, "dealer", "D", "import sys; print('dealer: ProtocolError: x', file=sys.stderr); sys.exit(5)",
              helper=True),
    ]
    out, err = Sink(), Sink()
    assert Supervisor(specs, grace=1, stdout=out, stderr=err).run() == 5
    assert err.text.rstrip().endswith("mpcrun: dealer failed first (exit code 5)")
    assert "mpcrun: ---- party 0 (killed by SIGTERM): last 0 lines" in err.text


@pytest.mark.timeout(30)
def test_log_only_lines_go_to_the_log_and_not_to_the_console(tmp_path):
    from mpc.launch.local import Supervisor
    from mpc.launch.run import LOG_PREFIX

    code = f"import sys; print({LOG_PREFIX!r} + 'for the log', file=sys.stderr); print('for both', file=sys.stderr)"
    err = Sink()
    assert Supervisor([_spec(tmp_path, "party 0", "P0", code)], stdout=Sink(), stderr=err).run() == 0
    assert err.text == "[P0] for both\n"
    assert (tmp_path / "P0.log").read_text() == "for the log\nfor both\n"


def test_concurrent_runs_get_distinct_log_folders(tmp_path):
    """Runs started in the same second never share (and overwrite) a log folder."""
    from mpc.launch.local import default_log_dir

    barrier = threading.Barrier(8)
    got = []

    def start():
        barrier.wait()
        got.append(default_log_dir(tmp_path / "logs"))

    threads = [threading.Thread(target=start) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(got)) == 8 and all(p.is_dir() for p in got)
    assert all(p.parent == tmp_path / "logs" and p.name.startswith("mpcrun-") for p in got)


@pytest.mark.timeout(60)
def test_insecure_local_preprocessing_needs_the_launcher_flag(tmp_path):
    """preprocessing="local" in separate processes is refused, naming the flag, whether a script
    default or MPC_PREPROCESSING asks for it; --insecure-local-preprocessing allows it."""
    _values(tmp_path)
    script = tmp_path / "local_default.py"
    script.write_text(SCRIPT.read_text().replace('preprocessing="dealer"', 'preprocessing="local"'))
    flag = "--insecure-local-preprocessing"
    proc, _ = mpcrun(tmp_path, "-n", 2, "--no-dealer", "--log-dir", "logs", script, "value_{pid}.txt")
    assert proc.returncode == 2, proc.stderr
    refusal = ": ConfigError: preprocessing: 'local' is insecure"
    line = [x for x in proc.stderr.splitlines() if x.startswith("[P") and refusal in x]  # whoever came first
    assert line and flag in line[0]
    assert "argv=" not in proc.stdout  # refused before the script's main ran
    env = _env(MPC_PREPROCESSING="local")
    for args in (("-n", 2), ("--pid", 0, "--hosts", _hosts_with_dealer(tmp_path, 2, "local")[0])):
        proc, _ = mpcrun(tmp_path, *args, SCRIPT, "value_{pid}.txt", env=env)
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.startswith("mpcrun: preprocessing: 'local' is insecure") and flag in proc.stderr
    proc, _ = mpcrun(tmp_path, "-n", 2, flag, "--log-dir", "logs", script, "value_{pid}.txt")
    assert proc.returncode == 0, proc.stderr
    assert f"[P1] party 1: sum = {VALUES[0] + VALUES[1]}" in proc.stdout


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("flags", "says"), [
    (("--engine", "spdz3k"), "engine: expected one of semi2k, spdz2k"),
    (("--engine", "masked2k", "--preprocessing", "ot"), "preprocessing: the masked2k engine needs the dealer's masks"),
    (("--preprocessing", "otx"), "preprocessing: expected 'dealer', 'ot', 'local'"),
    (("--preprocessing", "ot", "--ot-k", "9"), "ot_k: expected SoftSpoken's bits per block"),
])
def test_mpcrun_refuses_a_bad_engine_or_preprocessing_before_starting_a_process(tmp_path, flags, says):
    """An engine, preprocessing or OT option the parties would refuse is refused by mpcrun itself,
    once, before any process starts (no party output, no log folder), with -n and with --pid."""
    _values(tmp_path)
    proc, _ = mpcrun(tmp_path, "-n", 2, *flags, "--log-dir", "logs", SCRIPT, "value_{pid}.txt")
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith(f"mpcrun: {says}"), proc.stderr
    assert "[P" not in proc.stderr + proc.stdout and not (tmp_path / "logs").exists()
    hosts = _hosts_with_dealer(tmp_path, 2, "refused")[0]
    proc, _ = mpcrun(tmp_path, "--pid", 0, "--hosts", hosts, *flags, "--log-dir", "logs1", SCRIPT, "value_{pid}.txt",
                     env=_env())
    assert proc.returncode == 2 and proc.stderr.startswith(f"mpcrun: {says}"), proc.stderr
    assert not (tmp_path / "logs1").exists()


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


@pytest.mark.parametrize("processes", [1, 2, 3, 64])
def test_share_cores_divides_the_cores_unless_the_user_chose(processes, monkeypatch):
    """mpcrun -n N gives each process's BLAS (the float64 products of matmul128 and the spdz2k
    matrix combine) its share of the host's cores, at least one, and leaves a thread count the user
    set alone."""
    from mpc.launch.local import share_cores

    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    env = share_cores({"PATH": "/bin"}, processes)
    want = str(max(1, 8 // processes))
    assert env == {"PATH": "/bin", "OPENBLAS_NUM_THREADS": want, "OMP_NUM_THREADS": want}
    mine = share_cores({"OPENBLAS_NUM_THREADS": "5"}, processes)
    assert mine["OPENBLAS_NUM_THREADS"] == "5" and mine["OMP_NUM_THREADS"] == want


def test_port_blocks_avoid_the_ephemeral_range_and_follow_mpc_port_range(monkeypatch, tmp_path):
    """Blocks come from below the kernel's ephemeral range (a source port there could be handed
    to a connection before the party binds it), or from MPC_PORT_RANGE when set; a malformed or
    too small range is a ConfigError."""
    from mpc.launch import local

    ranges = tmp_path / "ip_local_port_range"
    ranges.write_text("40000\t60999\n")
    assert local._ephemeral_start(str(ranges)) == 40000
    assert local._ephemeral_start(str(tmp_path / "missing")) is None
    monkeypatch.delenv("MPC_PORT_RANGE", raising=False)
    monkeypatch.setattr(local, "_ephemeral_start", lambda: 40000)
    bases = [local.free_port_block(6) for _ in range(20)]
    assert all(local.LOWEST_PORT <= b and b + 6 <= 40000 for b in bases)
    monkeypatch.setenv("MPC_PORT_RANGE", "21000-21009")
    bases = [local.free_port_block(4) for _ in range(20)]
    assert all(21000 <= b and b + 4 <= 21010 for b in bases)
    for bad in ("21000", "a-b", "900-1000", "2000-1000", "21000-21002"):
        monkeypatch.setenv("MPC_PORT_RANGE", bad)
        with pytest.raises(ConfigError, match="MPC_PORT_RANGE"):
            local.free_port_block(4)
