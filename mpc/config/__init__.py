"""Session configuration: who this process is, where the others listen, and with which keys.

A :class:`SessionConfig` is everything a process needs to join a run: its party id, the number
of parties, the session id, every party's endpoint (and the dealer's), the deadlines, the CURVE
keys, and the engine options. It is built in one place, :func:`from_env`, from four sources in
this order of precedence (first wins):

1. command-line flags of ``mpcrun`` (``argv_flags``: ``pid``, ``n``, ``hosts``, ``timeout``, ...);
2. ``MPC_*`` environment variables (``MPC_PID``, ``MPC_N``, ``MPC_HOSTS``, ``MPC_TIMEOUT``,
   ``MPC_CONNECT_TIMEOUT``, ``MPC_SPIN_US``, ``MPC_MALLOC``, ``MPC_ENGINE``, ``MPC_PREPROCESSING``, ``MPC_KERNELS``,
   ``MPC_INSECURE_PLAINTEXT``, ``MPC_INSECURE_LOCAL_PREPROCESSING``, ``MPC_STATS``, ``MPC_LOG_DIR``,
   ``MPC_ADDRS``, ``MPC_DEALER_ADDR``);
   this is how ``mpcrun`` hands the configuration to the processes it starts;
3. the variables ``torchrun`` and cluster launchers set: ``RANK`` is the party id,
   ``WORLD_SIZE`` the number of parties, and when no hosts file or ``MPC_ADDRS`` is given every
   party listens on ``MASTER_ADDR`` at port ``MASTER_PORT + 1 + pid`` (``MASTER_PORT`` itself is
   left to torch's rendezvous store; default 29500) and the dealer at ``MASTER_PORT + 1 + n``
   (it listens on that port plus each party id, so ports up to ``MASTER_PORT + 2n`` are used).
   That rule suits one node; across nodes list the addresses in a hosts file (``MPC_HOSTS``) or
   in ``MPC_ADDRS`` (comma-separated ``host:port``, one per party in pid order);
4. the defaults the script passes to ``mpc.run(main, engine=..., ...)``.

Addresses come from a hosts file (see :func:`load_hosts`)::

    session = "salaries-2026"          # any string; hashed to the u64 session id
    [[party]]                           # one table per party, in pid order
    address = "10.0.0.1:5000"
    public_key = "..."                  # written by `mpcrun keygen hosts.toml`
    [dealer]                            # optional
    address = "10.0.0.9:5100"           # listens on 5100 + pid for each party
    public_key = "..."

Each party's CURVE secret key lives next to the hosts file in ``<stem>.party<i>.key`` (the
dealer's in ``<stem>.dealer.key``), mode 0600, so the hosts file itself can be copied to every
host while each secret key goes only to its own host.

Security policy (enforced by :class:`SessionConfig` itself, so no path around it): traffic is
encrypted and authenticated with CURVE whenever keys are configured; without keys, plaintext is
allowed only when every endpoint is a loopback address, or when the operator explicitly passes
``--insecure-plaintext`` / ``MPC_INSECURE_PLAINTEXT=1``. A script cannot turn encryption off,
nor allow the insecure ``preprocessing="local"`` across processes (only the launcher can:
``--insecure-local-preprocessing``, checked in :mod:`mpc.launch.run`).

Nothing here reads the environment or the disk at import time; :func:`from_env` reads the
mapping it is given (``os.environ`` by default) when called.
"""

from mpc.config.addresses import DEALER, is_loopback, key_path, parse_address, session_id
from mpc.config.env import SCRIPT_DEFAULTS, TORCH_DEFAULT_PORT, from_env, is_launched
from mpc.config.hosts import HostsFile, Node, curve_for, load_hosts, read_secret_key
from mpc.config.session import DEFAULT_TIMEOUT, CurveConfig, SessionConfig

__all__ = [
    "DEALER",
    "DEFAULT_TIMEOUT",
    "SCRIPT_DEFAULTS",
    "TORCH_DEFAULT_PORT",
    "CurveConfig",
    "HostsFile",
    "Node",
    "SessionConfig",
    "curve_for",
    "from_env",
    "is_launched",
    "is_loopback",
    "key_path",
    "load_hosts",
    "parse_address",
    "read_secret_key",
    "session_id",
]
