"""SessionConfig and CurveConfig: everything a process needs to join a run, with its security policy."""

from __future__ import annotations

from dataclasses import dataclass, field

from mpc._core import BACKENDS
from mpc.config.addresses import DEALER, check_key, is_loopback, parse_address, positive_seconds
from mpc.errors import ConfigError

DEFAULT_TIMEOUT = 60.0
MALLOC_MODES = ("tuned", "system")  # the process's C heap (mpc.launch.allocator); the first is the default
OT_MATRIX_MODES = ("auto", "gilboa", "paillier")  # preprocessing="ot": how matrix triples are made; the first is the default
OT_EXTENSIONS = ("softspoken", "iknp")  # preprocessing="ot": the OT extension; the first is the default
SHM_MODES = ("auto", "on", "sealed", "off")  # same-host payloads through shared memory (mpc.net.shm_ring); the first is the default


@dataclass(frozen=True)
class CurveConfig:
    """CURVE keys of one process (Z85 text, 40 bytes each, as ``zmq.curve_keypair()`` gives them).

    ``parties[i]`` is party i's public key (this process's own included); ``dealer`` is the
    dealer's public key, or None when the session has no dealer. The secret never appears in
    ``repr`` so a config can be logged.
    """

    public: bytes
    secret: bytes = field(repr=False)
    parties: tuple[bytes, ...]
    dealer: bytes | None = None

    def peers(self) -> dict[int, bytes]:
        """Party id -> public key for every party (this one included)."""
        return dict(enumerate(self.parties))


@dataclass(frozen=True)
class SessionConfig:
    """Everything one process needs to join a session (see the module docstring).

    ``pid`` is an int in [0, n) for a computing party, or :data:`DEALER` for the dealer.
    Construction validates every field and the encryption policy, raising ConfigError.
    """

    pid: int | str
    n: int
    session: int
    endpoints: tuple[str, ...]
    dealer_endpoint: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    connect_timeout: float | None = None
    spin_us: float | None = None  # receive polling before blocking; None: the channel's default
    malloc: str = "tuned"  # the process's C heap: "tuned" (mpc.launch.allocator) or "system"
    shm: str = "auto"  # shared-memory rings to same-host peers: auto, on (unsealed), sealed, off (SHM_MODES)
    bulk_port: int | None = None  # where this party's encrypted bulk links listen (None: any free port)
    curve: CurveConfig | None = None
    insecure_plaintext: bool = False
    insecure_local_preprocessing: bool = False  # the launcher allows preprocessing="local" (mpc.launch.run)
    engine: str = "semi2k"
    preprocessing: object = "dealer"
    ot_batch: int | None = None  # preprocessing="ot": elements per OT round trip (None: the source's default)
    ot_matrix: str = "auto"  # preprocessing="ot": matrix triples by Gilboa OT products, by Paillier, or the cheaper per shape
    ot_extension: str = "softspoken"  # preprocessing="ot": SoftSpoken (k bits per block) or IKNP
    ot_k: int | None = None  # preprocessing="ot" with SoftSpoken: bits per block (None: the default, 2)
    kernels: str | None = None
    log_dir: str | None = None
    stats: bool = False
    hosts: str | None = None  # the hosts file this came from, for messages and the dealer

    def __post_init__(self) -> None:
        object.__setattr__(self, "endpoints", tuple(self.endpoints))
        if isinstance(self.n, bool) or not isinstance(self.n, int) or self.n < 2:
            raise ConfigError(f"n: a session needs at least 2 parties, got {self.n!r}")
        if self.pid != DEALER and (
            isinstance(self.pid, bool) or not isinstance(self.pid, int) or not 0 <= self.pid < self.n
        ):
            raise ConfigError(f"pid: expected a party id in [0, {self.n}) or {DEALER!r}, got {self.pid!r}")
        if (
            isinstance(self.session, bool)
            or not isinstance(self.session, int)
            or not 0 <= self.session < 2**64
        ):
            raise ConfigError("session: expected a 64-bit unsigned session id")
        if len(self.endpoints) != self.n:
            raise ConfigError(f"endpoints: expected one per party ({self.n}), got {len(self.endpoints)}")
        for i, ep in enumerate(self.endpoints):
            parse_address(ep, f"endpoints[{i}]")
        if self.dealer_endpoint is not None:
            parse_address(self.dealer_endpoint, "dealer_endpoint")
        if self.pid == DEALER and self.dealer_endpoint is None:
            raise ConfigError("pid: this process is the dealer but the session has no dealer address")
        positive_seconds("timeout", self.timeout)
        if self.connect_timeout is not None:
            positive_seconds("connect_timeout", self.connect_timeout)
        if self.spin_us is not None and (
            isinstance(self.spin_us, bool) or not isinstance(self.spin_us, (int, float)) or not 0 <= self.spin_us <= 1e6
        ):
            raise ConfigError(f"spin_us: expected microseconds in [0, 1e6], got {self.spin_us!r}")
        if self.bulk_port is not None and (
            isinstance(self.bulk_port, bool) or not isinstance(self.bulk_port, int) or not 1 <= self.bulk_port <= 65535
        ):
            raise ConfigError(f"bulk_port: expected a port number (1..65535) or None, got {self.bulk_port!r}")
        for name, choices in (("malloc", MALLOC_MODES), ("shm", SHM_MODES)):
            if getattr(self, name) not in choices:
                raise ConfigError(f"{name}: expected one of {', '.join(choices)}, got {getattr(self, name)!r}")
        if self.kernels is not None and self.kernels not in BACKENDS:
            raise ConfigError(f"kernels: expected one of {', '.join(BACKENDS)}, got {self.kernels!r}")
        if not isinstance(self.engine, str) or not self.engine:
            raise ConfigError(f"engine: expected an engine name, got {self.engine!r}")
        if self.curve is not None:
            self._check_curve(self.curve)
        elif not self.insecure_plaintext:
            remote = [ep for ep in self.all_endpoints() if not is_loopback(parse_address(ep, "endpoint")[0])]
            if remote:
                raise ConfigError(
                    f"parties on different hosts need CURVE keys (non-loopback address {remote[0]}); "
                    "run `mpcrun keygen hosts.toml` or pass --insecure-plaintext"
                )

    def _check_curve(self, c: CurveConfig) -> None:
        for name, key in (("curve.public", c.public), ("curve.secret", c.secret)):
            check_key(key, name)
        if len(c.parties) != self.n:
            raise ConfigError(
                f"curve.parties: expected a public key per party ({self.n}), got {len(c.parties)}"
            )
        for i, key in enumerate(c.parties):
            check_key(key, f"curve.parties[{i}]")
        if self.dealer_endpoint is not None and c.dealer is None:
            raise ConfigError("curve.dealer: the session has a dealer but no dealer public key")
        own = c.dealer if self.pid == DEALER else c.parties[self.pid]
        if own != c.public:
            raise ConfigError(f"curve.public: does not match the public key listed for {self.who}")

    @property
    def is_dealer(self) -> bool:
        return self.pid == DEALER

    @property
    def who(self) -> str:
        """``"party 1"`` or ``"dealer"``: how messages name this process."""
        return DEALER if self.pid == DEALER else f"party {self.pid}"

    @property
    def encrypted(self) -> bool:
        return self.curve is not None

    @property
    def use_shm(self) -> bool:
        """Whether the party links may carry payloads through shared-memory rings to peers on this
        host: ``auto``, ``on`` or ``sealed``, encrypted or not; ``off`` keeps every byte on the
        sockets."""
        return self.shm != "off"

    @property
    def shm_sealed(self) -> bool | None:
        """On an encrypted session, whether this process wants its rings to carry AES-GCM records
        (:mod:`mpc.net.shm_ring`, security model): ``sealed`` yes, ``on`` no (the same-user
        argument), ``auto`` None: yes when the host restricts ptrace. A ring is sealed when
        either of its ends wants it."""
        return {"auto": None, "sealed": True}.get(self.shm, False)

    def all_endpoints(self) -> list[str]:
        return [*self.endpoints, *([self.dealer_endpoint] if self.dealer_endpoint else [])]


