"""One party of a benchmark run with ``--transport procs``: started by ``mpcrun``.

    python -m mpc run -n 2 --insecure-plaintext bench/party_script.py arith mul 1000000 3

On the lan/wan profiles each party is started alone in its network namespace, the multi-host
way (bench/parties.py writes the hosts file):

    mpcrun --pid 0 --hosts hosts.toml --insecure-plaintext bench/party_script.py arith mul 1000000 3

Calls ``bench.<suite>.party_main`` and prints this party's timings as one ``BENCH-RESULT``
JSON line (see bench/parties.py).
"""

import importlib
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository, for `bench`

import mpc  # noqa: E402
from bench.parties import RESULT_TAG, channel_barrier  # noqa: E402


def main(party: mpc.Party) -> None:
    suite, op, size, repeats = party.argv[0], party.argv[1], int(party.argv[2]), int(party.argv[3])
    runner = importlib.import_module(f"bench.{suite}")
    result = runner.party_main(party, op, size, repeats, channel_barrier(party))
    print(RESULT_TAG + json.dumps(result), flush=True)


if __name__ == "__main__":
    mpc.run(main, engine="semi2k", preprocessing="dealer")
