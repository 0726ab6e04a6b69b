"""``python -m mpc``: the command-line entry points.

python -m mpc run [mpcrun options] script.py args...   same as ``mpcrun ...``
python -m mpc keygen [--pid I] hosts.toml [--force]     same as ``mpcrun keygen ...``
python -m mpc selfcheck [--cases K] [--seed S]          compiled kernels == NumPy reference
python -m mpc dealer                                    the dealer process (started by mpcrun)
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

USAGE = __doc__.split("\n\n", 1)[1].rstrip().replace("``", "")


def _dealer(argv: Sequence[str]) -> int:
    """Serve as the dealer of the session described by ``MPC_*`` (``MPC_PID=dealer``).

    The service is :func:`mpc.preprocessing.dealer_service.serve`. It ends when the last party
    says BYE, when that party disconnects without it (its process died: the channel notices at
    once), or when it stays silent past the dealer's idle deadline. Failures are reported like
    a party's (:func:`mpc.launch.run.report_failure`), with the same exit codes: 2 for a
    ``ConfigError`` (e.g. a port another process holds), 3 for a ``PeerTimeout``.
    """
    from mpc.config import DEALER, from_env
    from mpc.launch.allocator import tune_allocator
    from mpc.launch.run import EXIT_CODES, report_failure
    from mpc.preprocessing.dealer_service import serve

    try:
        cfg = from_env({}, {"pid": DEALER})
        tune_allocator(cfg.malloc)
        serve(cfg)
    except KeyboardInterrupt:
        return EXIT_CODES["interrupted"]
    except Exception as exc:
        return report_failure(DEALER, exc, sys.stderr)
    return EXIT_CODES["ok"]


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
