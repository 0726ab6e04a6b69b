"""Session configuration: hosts files, precedence of flags / MPC_* / torchrun / defaults, keygen."""

import os
import stat

import pytest
import zmq

from mpc.config import DEALER, SessionConfig, from_env, is_launched, key_path, load_hosts, session_id
from mpc.errors import ConfigError
from mpc.launch import cli
from mpc.launch.keygen import generate_keys, write_hosts
from mpc.launch.run import check_curve_keys, refuse_insecure_local

pytestmark = pytest.mark.timeout(30)

HOSTS = """\
# three parties on loopback
session = "salaries-2026"

[[party]]
address = "127.0.0.1:5000"

[[party]]
address = "127.0.0.1:5001"   # party 1

[[party]]
address = "localhost:5002"

[dealer]
address = "127.0.0.1:5100"
"""


def write(tmp_path, text, name="hosts.toml"):
    p = tmp_path / name
    p.write_text(text)
    return p


def env_for(hosts=None, **kw):
    env = {f"MPC_{k.upper()}": str(v) for k, v in kw.items()}
    if hosts is not None:
        env["MPC_HOSTS"] = str(hosts)
    return env


# ------------------------------------------------------------------------------------ hosts files


def test_load_hosts_parses_parties_dealer_and_session(tmp_path):
    hosts = load_hosts(write(tmp_path, HOSTS))
    assert hosts.session_name == "salaries-2026"
    assert hosts.session == session_id("salaries-2026") and 0 <= hosts.session < 2**64
    assert [nd.endpoint for nd in hosts.parties] == [
        "tcp://127.0.0.1:5000",
        "tcp://127.0.0.1:5001",
        "tcp://localhost:5002",
    ]
    assert hosts.dealer.endpoint == "tcp://127.0.0.1:5100"
    assert hosts.parties[1].line == 7
    assert key_path(hosts.path, 1).name == "hosts.party1.key"
    assert key_path(hosts.path, DEALER).name == "hosts.dealer.key"


def test_from_env_with_hosts_file(tmp_path):
    path = write(tmp_path, HOSTS)
    cfg = from_env({}, {}, env_for(path, pid=2))
    assert (cfg.pid, cfg.n, cfg.session) == (2, 3, session_id("salaries-2026"))
    assert cfg.endpoints[2] == "tcp://localhost:5002" and cfg.dealer_endpoint == "tcp://127.0.0.1:5100"
    assert cfg.curve is None and not cfg.encrypted  # loopback without keys: plaintext allowed
    assert (cfg.timeout, cfg.engine, cfg.preprocessing, cfg.stats) == (60.0, "semi2k", "dealer", False)
    dealer = from_env({}, {}, env_for(path, pid="dealer"))
    assert dealer.is_dealer and dealer.who == "dealer"


@pytest.mark.parametrize(
    "text, fragment",
    [
        (
            'session = "s"\n[[party]]\naddress = "127.0.0.1"\n[[party]]\naddress = "127.0.0.1:2"\n',
            "line 3: party 0: address: malformed address '127.0.0.1'",
        ),
        (
            '[[party]]\naddress = "127.0.0.1:1"\n[[party]]\naddress = "127.0.0.1:99999"\n',
            "line 4: party 1: address: port 99999",
        ),
        ('[[party]]\naddress = "bad host:5"\n[[party]]\naddress = "h:6"\n', "line 2: party 0: address"),
        ('[[party]]\naddress = "udp://h:5"\n[[party]]\naddress = "h:6"\n', "only tcp://"),
        ('[[party]]\naddress = "h:5"\n[[party]]\naddres = "h:6"\n', "line 4: party 1: unknown key 'addres'"),
        ('[[party]]\naddress = "h:5"\n[[party]]\n', "line 3: party 1: missing key 'address'"),
        (
            '[[party]]\naddress = "h:5"\n[[party]]\naddress = "h:5"\n',
            "line 3: party 1: address h:5 is already used by party 0",
        ),
        ('[[party]]\naddress = "h:5"\n', "at least 2 [[party]] tables"),
        ('session = "s"\n', "no [[party]] tables"),
        (
            '[[party]]\npid = 0\naddress = "h:5"\n[[party]]\npid = 0\naddress = "h:6"\n',
            "line 5: party 1: pid = 0",
        ),
        (
            '[[party]]\naddress = "h:5"\n[[party]]\naddress = "h:6"\nport = 3\n',
            "line 5: party 1: unknown key",
        ),
        (
            '[[party]]\naddress = "h:5"\n[[party]]\naddress = "h:6"\n[extra]\nx = 1\n',
            "line 5: unknown key 'extra'",
        ),
        (
            '[[party]]\naddress = "h:5"\npublic_key = "short"\n[[party]]\naddress = "h:6"\n',
            "line 3: party 0: public_key is not a 40-character Z85 CURVE key",
        ),
        ('session = 3\n[[party]]\naddress = "h:5"\n[[party]]\naddress = "h:6"\n', "line 1: session"),
        ('[[party]\naddress = "h:5"\n', "not valid TOML"),
        (
            '[[party]]\naddress = "h:5"\nbulk_port = 0\n[[party]]\naddress = "h:6"\n',
            "line 3: party 0: bulk_port: expected a port number (1..65535), got 0",
        ),
        ('[[party]]\naddress = "h:5"\nbulk_port = "5001"\n[[party]]\naddress = "h:6"\n', "bulk_port: expected"),
        ('[[party]]\naddress = "h:5"\nbulk_port = true\n[[party]]\naddress = "h:6"\n', "bulk_port: expected"),
        (
            '[[party]]\naddress = "h:5"\nbulk_port = 6\n[[party]]\naddress = "h:6"\n',
            "line 1: party 0: bulk_port 6 (on h) is already used by party 1",
        ),
        (
            '[[party]]\naddress = "h:5"\n[[party]]\naddress = "h:6"\n[dealer]\naddress = "h:7"\nbulk_port = 9\n',
            "dealer: unknown key 'bulk_port'",
        ),
        (
            '[[party]]\naddress = "h:5"\nbulk_port = 8\n[[party]]\naddress = "h:6"\n[dealer]\naddress = "h:7"\n',
            "which includes party 0's bulk_port h:8",
        ),
    ],
)
def test_hosts_file_errors_name_file_line_and_key(tmp_path, text, fragment):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_hosts(path)
    assert str(path) in str(info.value)
    assert fragment in str(info.value)


def test_bulk_port_reaches_its_party_only(tmp_path):
    """A [[party]] table's bulk_port is where that party's encrypted bulk links listen (another
    host's parties each have their own); keygen keeps it."""
    text = HOSTS.replace('address = "127.0.0.1:5001"   # party 1', 'address = "127.0.0.1:5001"   # party 1\nbulk_port = 6001')
    path = write(tmp_path, text)
    assert [nd.bulk_port for nd in load_hosts(path).parties] == [None, 6001, None]
    assert from_env({}, {}, env_for(path, pid=1)).bulk_port == 6001
    assert from_env({}, {}, env_for(path, pid=0)).bulk_port is None
    assert from_env({}, {}, env_for(path, pid="dealer")).bulk_port is None
    generate_keys(path)
    assert load_hosts(path).parties[1].bulk_port == 6001
    with pytest.raises(ConfigError, match="bulk_port: expected a port number"):
        SessionConfig(pid=0, n=2, session=1, endpoints=("127.0.0.1:1", "127.0.0.1:2"), bulk_port=70000)


def test_missing_hosts_file(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        from_env({}, {}, env_for(tmp_path / "nope.toml", pid=0))


def test_ipv6_address(tmp_path):
    hosts = load_hosts(
        write(tmp_path, '[[party]]\naddress = "[::1]:7000"\n[[party]]\naddress = "[::1]:7001"\n')
    )
    assert hosts.parties[0].endpoint == "tcp://[::1]:7000"
    assert from_env({}, {}, env_for(hosts.path, pid=1)).curve is None  # ::1 is loopback


def test_session_defaults_to_the_addresses(tmp_path):
    a = load_hosts(write(tmp_path, '[[party]]\naddress = "h:5"\n[[party]]\naddress = "h:6"\n', "a.toml"))
    b = load_hosts(
        write(tmp_path, '# a copy\n[[party]]\naddress = "h:5"\n\n[[party]]\naddress = "h:6"\n', "b.toml")
    )
    assert a.session == b.session


# ------------------------------------------------------------------------------------ validation


@pytest.mark.parametrize(
    "env, flags, fragment",
    [
        ({"MPC_PID": "3"}, {}, "MPC_PID: party 3 is not in hosts file"),
        ({"MPC_PID": "-1"}, {}, "MPC_PID: expected a party id (or 'dealer') >= 0, got -1"),
        ({"MPC_PID": "one"}, {}, "MPC_PID: expected a party id"),
        ({"MPC_PID": "0"}, {"pid": 7}, "--pid: party 7 is not in hosts file"),
        ({"MPC_PID": "0", "MPC_N": "4"}, {}, "MPC_N: 4 parties, but hosts file"),
        ({"MPC_PID": "0", "MPC_N": "1"}, {}, "MPC_N: expected at least 2 parties, got 1"),
        ({"MPC_PID": "0", "MPC_TIMEOUT": "soon"}, {}, "MPC_TIMEOUT: expected a positive number of seconds"),
        ({"MPC_PID": "0"}, {"timeout": -1.0}, "--timeout: expected a positive number of seconds"),
        ({"MPC_PID": "0", "MPC_CONNECT_TIMEOUT": "0"}, {}, "MPC_CONNECT_TIMEOUT"),
        ({"MPC_PID": "0", "MPC_STATS": "maybe"}, {}, "MPC_STATS: expected 1/0"),
        ({"MPC_PID": "0", "MPC_INSECURE_PLAINTEXT": "perhaps"}, {}, "MPC_INSECURE_PLAINTEXT"),
        ({"MPC_PID": "0", "MPC_KERNELS": "gpu"}, {}, "MPC_KERNELS: expected one of c, ref, auto"),
        ({"MPC_PID": "0", "MPC_SPIN_US": "fast"}, {}, "MPC_SPIN_US: expected microseconds"),
        ({"MPC_PID": "0"}, {"spin_us": -5.0}, "--spin-us: expected microseconds in [0, 1e6]"),
        ({"MPC_PID": "0", "MPC_MALLOC": "jemalloc"}, {}, "MPC_MALLOC: expected one of tuned, system"),
        ({"MPC_PID": "0", "MPC_OT_MATRIX": "rsa"}, {}, "MPC_OT_MATRIX: expected one of auto, gilboa, paillier"),
        ({"MPC_PID": "0"}, {"ot_matrix": "ecc"}, "--ot-matrix: expected one of auto, gilboa, paillier"),
        ({"MPC_PID": "0", "MPC_OT_EXTENSION": "kos"}, {}, "MPC_OT_EXTENSION: expected one of softspoken, iknp"),
        ({"MPC_PID": "0"}, {"ot_k": "two"}, "--ot-k: expected SoftSpoken bits per block"),
        ({"MPC_PID": "0", "MPC_OT_K": "0"}, {}, "MPC_OT_K: expected SoftSpoken bits per block (an integer >= 1)"),
    ],
)
def test_from_env_errors_name_the_source(tmp_path, env, flags, fragment):
    env = dict(env, MPC_HOSTS=str(write(tmp_path, HOSTS)))
    with pytest.raises(ConfigError, match=None) as info:
        from_env({}, flags, env)
    assert fragment in str(info.value)


def test_ot_matrix_from_flag_env_or_script_default(tmp_path):
    env = {"MPC_PID": "0", "MPC_HOSTS": str(write(tmp_path, HOSTS))}
    assert from_env({}, {}, env).ot_matrix == "auto"
    assert from_env({"ot_matrix": "paillier"}, {}, env).ot_matrix == "paillier"
    assert from_env({"ot_matrix": "paillier"}, {"ot_matrix": "gilboa"}, env).ot_matrix == "gilboa"
    assert from_env({}, {}, dict(env, MPC_OT_MATRIX="Paillier")).ot_matrix == "paillier"


def test_ot_extension_and_k_from_flag_env_or_script_default(tmp_path):
    env = {"MPC_PID": "0", "MPC_HOSTS": str(write(tmp_path, HOSTS))}
    cfg = from_env({}, {}, env)
    assert (cfg.ot_extension, cfg.ot_k) == ("softspoken", None)
    cfg = from_env({"ot_extension": "iknp", "ot_k": 4}, {}, env)
    assert (cfg.ot_extension, cfg.ot_k) == ("iknp", 4)
    cfg = from_env({"ot_k": 4}, {"ot_k": "3"}, dict(env, MPC_OT_EXTENSION="IKNP"))
    assert (cfg.ot_extension, cfg.ot_k) == ("iknp", 3)
    assert from_env({}, {}, dict(env, MPC_OT_K="5")).ot_k == 5


def test_missing_pid_and_addresses():
    assert not is_launched({})
    assert is_launched({"RANK": "0"}) and is_launched({"MPC_PID": "1"}) and is_launched({}, {"pid": 0})
    with pytest.raises(ConfigError, match="pid: not set"):
        from_env({}, {}, {})
    with pytest.raises(ConfigError, match="no party addresses"):
        from_env({}, {}, {"MPC_PID": "0", "MPC_N": "2"})


def test_dealer_needs_a_dealer_table(tmp_path):
    path = write(tmp_path, '[[party]]\naddress = "127.0.0.1:5"\n[[party]]\naddress = "127.0.0.1:6"\n')
    with pytest.raises(ConfigError, match=r"MPC_PID: dealer, but hosts file .* has no \[dealer\] table"):
        from_env({}, {}, env_for(path, pid="dealer"))


def test_script_defaults_are_checked_and_cannot_set_launcher_options(tmp_path):
    env = env_for(write(tmp_path, HOSTS), pid=0)
    with pytest.raises(ConfigError, match="unknown or launcher-only option 'engin'"):
        from_env({"engin": "gmw"}, {}, env)
    with pytest.raises(ConfigError, match="launcher-only option 'insecure_plaintext'"):
        from_env({"insecure_plaintext": True}, {}, env)


def test_session_config_validates_itself():
    ok = dict(pid=0, n=2, session=1, endpoints=["tcp://127.0.0.1:1", "tcp://127.0.0.1:2"])
    SessionConfig(**ok)
    for bad, fragment in [
        ({"n": 1}, "at least 2"),
        ({"pid": 2}, "pid"),
        ({"session": -1}, "session"),
        ({"endpoints": ["tcp://127.0.0.1:1"]}, "one per party"),
        ({"timeout": 0}, "timeout"),
        ({"kernels": "gpu"}, "kernels"),
        ({"pid": "dealer"}, "no dealer address"),
    ]:
        with pytest.raises(ConfigError, match=fragment):
            SessionConfig(**dict(ok, **bad))


# ------------------------------------------------------------------------------------ precedence


def test_precedence_flags_over_env_over_torch_over_defaults(tmp_path):
    path = write(tmp_path, HOSTS)
    defaults = {"engine": "gmw", "timeout": 5, "preprocessing": "ot", "stats": True}
    env = {"MPC_HOSTS": str(path), "RANK": "1", "WORLD_SIZE": "3"}
    cfg = from_env(defaults, {}, env)
    assert (cfg.pid, cfg.engine, cfg.timeout, cfg.preprocessing, cfg.stats) == (1, "gmw", 5.0, "ot", True)
    env.update(MPC_PID="2", MPC_ENGINE="spdz2k", MPC_TIMEOUT="7.5", MPC_STATS="0")
    cfg = from_env(defaults, {}, env)
    assert (cfg.pid, cfg.engine, cfg.timeout, cfg.preprocessing, cfg.stats) == (2, "spdz2k", 7.5, "ot", False)
    cfg = from_env(
        defaults, {"pid": 0, "engine": "semi2k", "timeout": 3, "stats": None, "preprocessing": "he"}, env
    )
    assert (cfg.pid, cfg.engine, cfg.timeout, cfg.preprocessing, cfg.stats) == (0, "semi2k", 3.0, "he", False)
    cfg = from_env({}, {}, dict(env, MPC_KERNELS="REF", MPC_LOG_DIR="/tmp/x", MPC_CONNECT_TIMEOUT="2"))
    assert (cfg.kernels, cfg.log_dir, cfg.connect_timeout) == ("ref", "/tmp/x", 2.0)
    assert cfg.spin_us is None  # not set: the channel's default
    assert from_env({}, {}, dict(env, MPC_SPIN_US="0")).spin_us == 0.0
    assert from_env({}, {"spin_us": 250.0}, dict(env, MPC_SPIN_US="0")).spin_us == 250.0  # the flag wins
    assert cfg.malloc == "tuned"  # the default: large buffers are reused (mpc.launch.allocator)
    assert from_env({}, {}, dict(env, MPC_MALLOC="System")).malloc == "system"
    assert from_env({"malloc": "system"}, {"malloc": "tuned"}, env).malloc == "tuned"  # the flag wins


def test_empty_env_values_count_as_unset(tmp_path):
    cfg = from_env(
        {"engine": "gmw"},
        {},
        {"MPC_HOSTS": str(write(tmp_path, HOSTS)), "MPC_PID": "0", "MPC_ENGINE": "", "RANK": ""},
    )
    assert cfg.engine == "gmw"


# ------------------------------------------------------------------------------------ torchrun


def test_torchrun_master_addr_rule():
    env = {"RANK": "2", "WORLD_SIZE": "3", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "29600"}
    cfg = from_env({}, {}, env)
    assert (cfg.pid, cfg.n) == (2, 3)
    assert cfg.endpoints == ("tcp://127.0.0.1:29601", "tcp://127.0.0.1:29602", "tcp://127.0.0.1:29603")
    assert cfg.dealer_endpoint == "tcp://127.0.0.1:29604"
    assert cfg.session == from_env({}, {}, dict(env, RANK="0")).session  # every rank derives the same id
    default_port = from_env({}, {}, {"RANK": "0", "WORLD_SIZE": "2", "MASTER_ADDR": "localhost"})
    assert default_port.endpoints[0] == "tcp://localhost:29501"


def test_torchrun_errors():
    with pytest.raises(ConfigError, match="WORLD_SIZE: not set"):
        from_env({}, {}, {"RANK": "0", "MASTER_ADDR": "127.0.0.1"})
    with pytest.raises(ConfigError, match="RANK: party 4 is out of range for 2 parties"):
        from_env({}, {}, {"RANK": "4", "WORLD_SIZE": "2", "MASTER_ADDR": "127.0.0.1"})
    with pytest.raises(ConfigError, match="WORLD_SIZE: expected at least 2 parties, got 1"):
        from_env({}, {}, {"RANK": "0", "WORLD_SIZE": "1", "MASTER_ADDR": "127.0.0.1"})
    remote = {"RANK": "0", "WORLD_SIZE": "2", "MASTER_ADDR": "10.1.2.3"}
    with pytest.raises(ConfigError, match="parties on different hosts need CURVE keys"):
        from_env({}, {}, remote)
    assert not from_env({}, {}, dict(remote, MPC_INSECURE_PLAINTEXT="1")).encrypted


def test_mpc_addrs_list():
    env = {"RANK": "1", "MPC_ADDRS": "127.0.0.1:7000, 127.0.0.1:7001", "MPC_DEALER_ADDR": "127.0.0.1:7002"}
    cfg = from_env({}, {}, env)
    assert (cfg.pid, cfg.n, cfg.endpoints[1], cfg.dealer_endpoint) == (
        1,
        2,
        "tcp://127.0.0.1:7001",
        "tcp://127.0.0.1:7002",
    )
    with pytest.raises(ConfigError, match=r"MPC_ADDRS\[1\]: malformed address"):
        from_env({}, {}, dict(env, MPC_ADDRS="127.0.0.1:7000,nope"))
    with pytest.raises(ConfigError, match="WORLD_SIZE: 3 parties, but MPC_ADDRS lists 2"):
        from_env({}, {}, dict(env, WORLD_SIZE="3"))


# ------------------------------------------------------------------------------------ encryption


REMOTE = 'session = "s"\n[[party]]\naddress = "10.0.0.1:5000"\n[[party]]\naddress = "10.0.0.2:5000"\n'


def test_remote_hosts_without_keys_are_refused(tmp_path):
    path = write(tmp_path, REMOTE)
    with pytest.raises(ConfigError) as info:
        from_env({}, {}, env_for(path, pid=0))
    assert str(path) in str(info.value)
    assert "parties on different hosts need CURVE keys" in str(info.value)
    assert "run `mpcrun keygen hosts.toml` or pass --insecure-plaintext" in str(info.value)
    cfg = from_env({}, {"insecure_plaintext": True}, env_for(path, pid=0))
    assert cfg.insecure_plaintext and cfg.curve is None


def test_keygen_writes_keys_and_from_env_uses_them(tmp_path):
    path = write(
        tmp_path,
        REMOTE.replace(
            '[[party]]\naddress = "10.0.0.2:5000"\n',
            '[[party]]  # the second host\naddress = "10.0.0.2:5000"\n',
        )
        + '[dealer]\naddress = "10.0.0.9:5100"\n',
    )
    written = generate_keys(path)
    assert [p.name for p in written] == ["hosts.party0.key", "hosts.party1.key", "hosts.dealer.key"]
    for p in written:
        assert stat.S_IMODE(p.stat().st_mode) == 0o600
    text = path.read_text()
    assert "# the second host" in text  # edited in place, comments kept
    hosts = load_hosts(path)
    assert all(nd.public_key for _, nd in hosts.nodes())
    for who in (0, 1, DEALER):
        cfg = from_env({}, {}, env_for(path, pid=who))
        assert cfg.encrypted and cfg.curve.public == zmq.curve_public(cfg.curve.secret)
        assert cfg.curve.peers() == {0: hosts.parties[0].public_key, 1: hosts.parties[1].public_key}
        assert cfg.curve.dealer == hosts.dealer.public_key
        assert cfg.curve.secret.decode() not in repr(cfg)  # configs can be logged
        check_curve_keys(cfg)
        assert cfg.curve.secret.decode() not in text  # secrets never go into the shared hosts file
    # explicit plaintext still wins over keys
    assert not from_env({}, {"insecure_plaintext": True}, env_for(path, pid=0)).encrypted


def test_keygen_refuses_to_overwrite_without_force(tmp_path, capsys):
    path = write(tmp_path, HOSTS)
    generate_keys(path)
    before = path.read_text()
    with pytest.raises(ConfigError, match="party 0 already has a public_key; pass --force"):
        generate_keys(path)
    assert cli.main(["keygen", str(path)]) == 2
    assert "pass --force" in capsys.readouterr().err
    assert path.read_text() == before
    assert cli.main(["keygen", str(path), "--force"]) == 0
    assert path.read_text() != before
    out = capsys.readouterr().out
    assert "hosts.party2.key" in out and load_hosts(path).parties[2].public_key.decode() not in out


def test_keygen_refuses_when_only_the_key_file_exists(tmp_path):
    path = write(tmp_path, HOSTS)
    key_path(path, 1).write_text("x")
    with pytest.raises(ConfigError, match="secret key file of party 1 already exists"):
        generate_keys(path)


def test_keygen_per_host_writes_one_secret_and_prints_its_public_line(tmp_path, capsys):
    path = write(tmp_path, HOSTS)
    before = path.read_text()
    assert cli.main(["keygen", "--pid", "1", str(path)]) == 0
    out, err = capsys.readouterr()
    kp = key_path(path, 1)
    assert sorted(p.name for p in tmp_path.glob("*.key")) == ["hosts.party1.key"]  # only its own
    assert stat.S_IMODE(kp.stat().st_mode) == 0o600
    secret = kp.read_text().strip().encode()
    assert out == f'public_key = "{zmq.curve_public(secret).decode()}"\n'  # the line for the hosts file
    assert secret.decode() not in out + err
    assert "party 1" in err and "[[party]] table number 2" in err
    assert path.read_text() == before  # the hosts file is the operator's to assemble
    assert cli.main(["keygen", "--pid", "1", str(path)]) == 2  # never overwritten...
    assert "hosts.party1.key: already exists" in capsys.readouterr().err
    assert kp.read_text().strip().encode() == secret
    assert cli.main(["keygen", "--pid", "1", "--force", str(path)]) == 0  # ...unless asked to
    assert kp.read_text().strip().encode() != secret
    assert cli.main(["keygen", "--pid", "dealer", str(path)]) == 0
    assert key_path(path, DEALER).exists() and "[dealer]" in capsys.readouterr().err
    for bad, fragment in (("3", "party 3 is not in hosts file"), ("x", "expected a party id or 'dealer'")):
        assert cli.main(["keygen", "--pid", bad, str(path)]) == 2
        assert fragment in capsys.readouterr().err


def test_per_host_keys_make_a_working_hosts_file(tmp_path, capsys):
    """Each host makes its own key pair; the operator pastes the printed lines into the hosts
    file; every party (and the dealer) then runs encrypted with keys nobody else ever held."""
    path = write(tmp_path, REMOTE + '[dealer]\naddress = "10.0.0.9:5100"\n')
    lines = {}
    for who in ("0", "1", "dealer"):
        assert cli.main(["keygen", "--pid", who, str(path)]) == 0
        lines[who] = capsys.readouterr().out.strip()
    text = path.read_text()
    for who, address in (("0", "10.0.0.1:5000"), ("1", "10.0.0.2:5000"), ("dealer", "10.0.0.9:5100")):
        text = text.replace(f'address = "{address}"\n', f'address = "{address}"\n{lines[who]}\n')
    path.write_text(text)
    for who in (0, 1, DEALER):
        cfg = from_env({}, {}, env_for(path, pid=who))
        assert cfg.encrypted
        check_curve_keys(cfg)


def test_secret_key_files_are_created_exclusively(tmp_path):
    """A link planted where a secret key goes is never followed: without --force the key is
    refused, with it the link itself is replaced; the file it pointed to is untouched."""
    path = write(tmp_path, HOSTS)
    target = tmp_path / "elsewhere.txt"
    target.write_text("precious\n")
    os.symlink(target, key_path(path, 0))
    with pytest.raises(ConfigError, match="secret key file of party 0 already exists"):
        generate_keys(path)
    assert cli.main(["keygen", "--pid", "0", str(path)]) == 2
    generate_keys(path, force=True)
    assert target.read_text() == "precious\n"
    assert not key_path(path, 0).is_symlink() and stat.S_IMODE(key_path(path, 0).stat().st_mode) == 0o600


def test_local_preprocessing_across_processes_is_the_launchers_call(tmp_path):
    path = write(tmp_path, HOSTS)
    cfg = from_env({"preprocessing": "local"}, {}, env_for(path, pid=0))
    assert not cfg.insecure_local_preprocessing
    with pytest.raises(ConfigError, match="--insecure-local-preprocessing") as info:
        refuse_insecure_local(cfg)
    assert str(info.value).startswith("preprocessing: 'local' is insecure")
    with pytest.raises(ConfigError, match="launcher-only option 'insecure_local_preprocessing'"):
        from_env({"insecure_local_preprocessing": True}, {}, env_for(path, pid=0))  # not a script's call
    allowed = from_env({}, {}, env_for(path, pid=0, preprocessing="local", insecure_local_preprocessing=1))
    assert allowed.insecure_local_preprocessing and allowed.preprocessing == "local"
    refuse_insecure_local(allowed)
    refuse_insecure_local(from_env({}, {}, env_for(path, pid=0)))  # the dealer: nothing to refuse


def test_key_file_problems(tmp_path):
    path = write(tmp_path, REMOTE)
    generate_keys(path)
    env = env_for(path, pid=1)
    kp = key_path(path, 1)
    os.chmod(kp, 0o644)
    with pytest.raises(ConfigError, match=r"accessible by other users \(mode 0644\); run `chmod 600"):
        from_env({}, {}, env)
    os.chmod(kp, 0o600)
    good = kp.read_text()
    kp.write_text("not a key\n")
    with pytest.raises(ConfigError, match="does not hold a 40-character Z85 key"):
        from_env({}, {}, env)
    other_public, other_secret = zmq.curve_keypair()
    kp.write_text(other_secret.decode())
    with pytest.raises(ConfigError, match="does not match the public key listed for party 1"):
        check_curve_keys(from_env({}, {}, env))
    kp.unlink()
    with pytest.raises(ConfigError, match=r"party 1: secret key file .*hosts.party1.key not found"):
        from_env({}, {}, env)
    kp.write_text(good)
    os.chmod(kp, 0o000)
    if os.geteuid() != 0:  # root reads anything
        with pytest.raises(ConfigError, match="cannot read secret key file"):
            from_env({}, {}, env)
    os.chmod(kp, 0o600)


def test_partial_keys_are_refused(tmp_path):
    path = write(tmp_path, HOSTS)
    generate_keys(path)
    text = path.read_text().replace(
        '\n[dealer]\naddress = "127.0.0.1:5100"\npublic_key',
        '\n[dealer]\naddress = "127.0.0.1:5100"\n# public_key',
    )
    path.write_text(text)
    with pytest.raises(
        ConfigError, match=r"some entries have a public_key and some do not \(dealer missing\)"
    ):
        from_env({}, {}, env_for(path, pid=0))


def test_write_hosts_round_trips_odd_strings(tmp_path):
    session = 'quote " backslash \\ tab \t unicode \u00e9 \U0001f600 del \x7f'
    path = write_hosts(tmp_path / "h.toml", session, ["127.0.0.1:1", "127.0.0.1:2"], "127.0.0.1:3")
    hosts = load_hosts(path)
    assert hosts.session_name == session and hosts.dealer.port == 3
    generate_keys(path)
    assert load_hosts(path).session_name == session


# ------------------------------------------------------------------------------------ CLI errors


def test_cli_usage_errors(tmp_path, capsys, monkeypatch):
    for var in ("MPC_PID", "RANK"):
        monkeypatch.delenv(var, raising=False)
    script = tmp_path / "s.py"
    script.write_text("")
    assert cli.main([str(script)]) == 2
    assert "pass -n N" in capsys.readouterr().err
    assert cli.main(["-n", "1", str(script)]) == 2
    assert "-n: a session needs at least 2 parties, got 1" in capsys.readouterr().err
    assert cli.main(["-n", "2", str(tmp_path / "missing.py")]) == 2
    assert "script: no such file" in capsys.readouterr().err
    assert cli.main(["-n", "2", "--hosts", "h.toml", str(script)]) == 2
    assert "--pid I --hosts" in capsys.readouterr().err
    bad = write(tmp_path, '[[party]]\naddress = "h"\n[[party]]\naddress = "h:1"\n')
    assert cli.main(["--pid", "0", "--hosts", str(bad), str(script)]) == 2
    err = capsys.readouterr().err
    assert f"mpcrun: hosts file {bad}, line 2: party 0: address: malformed address 'h'" in err
    assert "Traceback" not in err


def test_duplicate_public_keys_are_refused(tmp_path):
    path = write(tmp_path, HOSTS)
    generate_keys(path)
    hosts = load_hosts(path)
    text = path.read_text().replace(
        hosts.parties[2].public_key.decode(), hosts.parties[0].public_key.decode()
    )
    path.write_text(text)
    with pytest.raises(ConfigError, match="line 12: party 2 has the same public_key as party 0"):
        from_env({}, {}, env_for(path, pid=0))
