"""Secure sum of one private integer per party, using only the channel (a launcher test script).

    mpcrun -n 3 tests/scripts/secure_sum.py value_{pid}.txt [--fail PID:MODE] [--sleep S]

Each party splits its value into n additive shares mod 2^64 (``party.prg``), sends share j to
party j (one round), adds what it holds, and all parties exchange these partial sums (one
round); the total is the sum of the partial sums. ``--fail PID:MODE`` makes party PID misbehave
after the first round: ``error`` (an MPCError), ``bug`` (a RuntimeError), ``usage`` (a bad
argument in the script's own call: ConfigError), ``exit`` (os._exit(7)), ``kill`` (SIGKILL
itself), ``hang`` (sleep past every deadline).
"""

import argparse
import os
import signal
import time

import numpy as np

from mpc.errors import ProtocolError
from mpc.launch import run


def misbehave(mode: str, party) -> None:
    if mode == "usage":
        party.input(np.ones(2), owner=party.n + 5)  # no such party: ConfigError naming owner
    if mode == "error":
        raise ProtocolError("injected failure for the launcher test")
    if mode == "bug":
        raise RuntimeError("injected bug for the launcher test")
    if mode == "exit":
        os._exit(7)
    if mode == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    if mode == "hang":
        time.sleep(600)


def main(party) -> None:
    ap = argparse.ArgumentParser(prog="secure_sum.py")
    ap.add_argument("value_file")
    ap.add_argument("--fail", default="", help="PID:MODE")
    args = ap.parse_args(party.argv)
    with open(args.value_file) as f:
        value = int(f.read())
    print(f"argv={party.argv}", flush=True)
    ch = party.channel
    shares = party.prg.uint64(party.n)
    shares[party.pid] = 0
    shares[party.pid] = (value - int(shares.sum(dtype=np.uint64))) % 2**64  # Python ints: no overflow
    tag = ch.next_tag()
    for p in ch.peers:
        ch.send(p, shares[p : p + 1], tag)
    got = {p: ch.recv(p, tag, dtype=np.uint64, shape=(1,)) for p in ch.peers}
    if args.fail:
        who, mode = args.fail.split(":")
        if int(who) == party.pid:
            misbehave(mode, party)
    partial = shares[party.pid : party.pid + 1] + sum(got.values())
    total = np.sum(np.stack(ch.exchange(partial)), dtype=np.uint64).astype(np.int64)
    print(f"party {party.pid}: sum = {int(total)}", flush=True)


if __name__ == "__main__":
    run(main, engine="semi2k", preprocessing="dealer")
