"""``python -m mpc``: the command-line entry points.

python -m mpc run [mpcrun options] script.py args...   same as ``mpcrun ...``
python -m mpc keygen hosts.toml [--force]               same as ``mpcrun keygen ...``
python -m mpc selfcheck [--cases K] [--seed S]          compiled kernels == NumPy reference
python -m mpc dealer                                    the dealer process (started by mpcrun)
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

USAGE = __doc__.split("\n\n", 1)[1].rstrip().replace("``", "")
_DEALER_MODULE = "mpc.preprocessing.dealer_service"


def _dealer(argv: Sequence[str]) -> int:
    """Serve as the dealer of the session described by ``MPC_*`` (``MPC_PID=dealer``).

    The service lives in :mod:`mpc.preprocessing.dealer_service`; until it exists, the dealer
    is a no-op that exits at once, so ``mpcrun`` works for protocols that need no dealer.
    """
    import importlib

    from mpc.config import from_env
    from mpc.errors import ConfigError, MPCError

    try:
        module = importlib.import_module(_DEALER_MODULE)
    except ModuleNotFoundError as exc:
        if exc.name is None or not _DEALER_MODULE.startswith(exc.name):
            raise
        print(
            "dealer: mpc.preprocessing.dealer_service is not available yet; no dealer is running",
            file=sys.stderr,
        )
        return 0
    try:
        cfg = from_env({}, {"pid": "dealer"})
    except ConfigError as exc:
        print(f"dealer: ConfigError: {exc}", file=sys.stderr)
        return 2
    from mpc.launch.allocator import tune_allocator

    try:
        tune_allocator(cfg.malloc)
        module.serve(cfg)
    except MPCError as exc:
        print(f"dealer: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command, rest = (argv[0], argv[1:]) if argv else ("", [])
    if command == "run":
        from mpc.launch.cli import main as mpcrun

        return mpcrun(rest)
    if command == "keygen":
        from mpc.launch.keygen import main as keygen

        return keygen(rest)
    if command == "selfcheck":
        from mpc.launch.selfcheck import main as selfcheck

        return selfcheck(rest)
    if command == "dealer":
        return _dealer(rest)
    stream = sys.stdout if command in ("-h", "--help") else sys.stderr
    print(f"usage:\n{USAGE}", file=stream)
    return 0 if stream is sys.stdout else 2


if __name__ == "__main__":
    sys.exit(main())
