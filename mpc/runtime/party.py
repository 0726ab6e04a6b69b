"""Party: the per-process (or per-thread) state of one participant in a session.

A Party owns everything stateful about a run: its channel, its PRGs (private, pairwise with
each peer, and common to all, agreed at start by :func:`mpc.runtime.seeds.agree_seeds`), the
operation counter (through the channel), the kernels backend, the preprocessing source, the
engines and the traffic counters. There is no global state, so several parties can run as
threads of one process (how most tests run).

Engines and preprocessing are built by the Party and handed what they need (channel,
preprocessing source, PRGs); they never import the runtime. One preprocessing source serves
everything (Beaver, matrix and truncation triples, AND triples, daBits): the trusted dealer's
:class:`~mpc.preprocessing.DealerClient`, or the insecure in-process dealer for tests.

Engines (``engine=``), built by name through the registry :mod:`mpc.runtime.engines`:
- ``"semi2k"`` (default): ``party.engine`` is the arithmetic :class:`~mpc.engines.semi2k.Semi2k`
  engine (SecretTensor); ``party.gmw`` is a :class:`~mpc.engines.gmw.GMWEngine` over the same
  channel and preprocessing, and ``party.engine.converter`` its boolean side (a
  :class:`~mpc.engines.convert.Converter` with daBits, built with the engine): comparisons, ReLU,
  max/argmax, sort and the functions of :mod:`mpc.functions` work on SecretTensors, and
  :meth:`input_bits` gives SecretBits as well.
- ``"gmw"``: boolean only. ``party.engine is party.gmw``; no arithmetic engine is built, so
  :meth:`input` raises ConfigError: values enter with :meth:`input_bits` as
  :class:`~mpc.tensor.secret_bits.SecretBits` (XOR-shared, bit-sliced; see that module for the
  operations and their cost) and leave with :meth:`reveal`. The preprocessing serves only AND
  triples.
- ``"spdz2k"``: :class:`~mpc.engines.spdz2k.Spdz2k`, active security with abort (SPDZ2k MACs),
  with its authenticated boolean side; every SecretTensor operation, comparison and function.
- ``"masked2k"``: :class:`~mpc.engines.masked2k.Masked2k`, semi2k's security with masked
  (ABY2.0-style) sharing: products, squares, 2-d matrix products of values with dealer-known
  masks open half of Beaver's bytes, and their truncation is local; everything else runs
  semi2k's protocols on the additive shares. Needs the dealer's masks (``"dealer"`` or
  ``"local"``), and an input costs one round.

Inputs and outputs (:meth:`Party.input`, :meth:`Party.input_bits`, :meth:`Party.reveal`):
- ``input`` first checks that all parties agree on the shape, dtype and owner (one round of
  12 words per party: a mismatch would otherwise desynchronise the streams silently), then
  shares the value with no further message (pairwise-PRG input, see :mod:`mpc.engines.semi2k`).
- ``input_bits`` likewise (agreement on owner, width and count; pairwise-PRG XOR sharing).
- ``reveal(*values)`` opens all SecretTensors in one round and decodes them, and all
  SecretBits in one round (a call with both kinds costs two rounds).

Construction order matters: building a GMW engine draws a sub-seed from each pairwise PRG, so
every party builds its engines at the same point (here, in ``__init__``, after seed agreement).
"""

from __future__ import annotations

import contextlib
import gc
import time
from collections.abc import Sequence

from mpc._core import get_kernels
from mpc.engines.base import ArithmeticEngine, EngineContext
from mpc.engines.gmw import GMWEngine
from mpc.errors import ConfigError
from mpc.net.channel import Channel
from mpc.prg import PRG
from mpc.runtime import dryrun
from mpc.runtime import inout as io
from mpc.runtime.engines import ENGINES, build_arithmetic, check_engine
from mpc.runtime.progress import ProgressBar, peak_rss_bytes
from mpc.runtime.seeds import agree_seeds
from mpc.tensor.secret_bits import SecretBits
from mpc.tensor.secret_tensor import SecretTensor

__all__ = ["ENGINES", "Party"]


PROGRESS_CHUNKS = 20  # Party.preprocess(progress=...): the plan in at most this many fetches

class Party:
    """One participant. Construct it with a connected channel; it agrees seeds with the peers."""

    def __init__(
        self,
        channel: Channel,
        *,
        argv: Sequence[str] = (),
        engine: str = "semi2k",
        preprocessing: object = "dealer",
        kernels: str | None = None,
        dealer: Channel | None = None,
        ot_batch: int | None = None,
        ot_matrix: str = "auto",
        ot_extension: str = "softspoken",
        ot_k: int | None = None,
    ) -> None:
        """``preprocessing``: "dealer" (a DealerClient over ``dealer``, this party's link to the
        dealer process), "ot" (the parties' own OT-based offline phase, no dealer:
        :mod:`mpc.preprocessing.ot_source`; ``ot_batch`` elements per OT round trip; ``ot_matrix``
        "gilboa", "paillier" or "auto", the cheaper of the two per shape by their cost models:
        how its matrix triples are made; ``ot_extension`` "softspoken" or "iknp" and ``ot_k``,
        SoftSpoken's bits per block, 1..8, default 2), "local"
        (InsecureLocalDealer: tests only) or a Preprocessing instance."""
        engine = check_engine(engine)
        io.check_preprocessing_spec(preprocessing, engine)  # before any message, like the engine name
        ot = io.ot_options(ot_batch, ot_matrix, ot_extension, ot_k)  # checked before any message
        self.channel = channel
        self.pid = channel.pid
        self.n = channel.n
        self.argv = list(argv)
        self.engine_name = engine
        self.preprocessing_spec = preprocessing
        self.kernels = get_kernels(kernels)
        common, pairwise = agree_seeds(channel)
        self.prg = PRG.fresh()  # private randomness: never shared
        self.common_prg = PRG(common)
        self.pair_prgs = {j: PRG(s) for j, s in pairwise.items()}
        self.preprocessing = io.build_preprocessing(preprocessing, dealer, channel, self.common_prg,
                                                    self.kernels, ot, engine=engine)
        # draws a sub-seed from each pairwise PRG: the same point of the program on every party
        self.gmw = GMWEngine(channel, self.preprocessing, self.kernels, prg=self.prg, pair_prgs=self.pair_prgs)
        ctx = EngineContext(channel, self.preprocessing, self.kernels, self.prg, self.pair_prgs, self.common_prg,
                            boolean=self.gmw)
        arith = build_arithmetic(engine, ctx)
        self.engine: ArithmeticEngine | GMWEngine = arith if arith is not None else self.gmw
        if arith is not None and arith.converter is not None:  # SecretBits use the engine's boolean side
            self.gmw = arith.converter.boolean  # (semi2k: the GMW engine above; cleartext: its own)
        self.channel.reset_stats()  # report the user's protocol, not the set-up
        # The heap as set-up leaves it (modules, the engine, the channel) lives as long as the
        # party: moved out of the collector's reach until close(), so the full collection that
        # ends every offline phase (preprocess) scans only what was made since, well under a
        # millisecond instead of 5-20 ms per phase (which had become most of W2's total time).
        # Refcounting still frees everything; only cyclic garbage made before this point waits
        # for close(), which hands the frozen objects back to the collector.
        gc.freeze()

    def __repr__(self) -> str:
        return f"Party(pid={self.pid}, n={self.n}, engine={self.engine_name!r})"

    def args(self, required: int, usage: str) -> list[str]:
        """The script's arguments (``argv``, after the script's path on the mpcrun line), checked
        to be at least ``required``: otherwise a :class:`ConfigError` quoting ``usage`` (the run
        line), raised at every party before any message, so mpcrun prints one line per party
        instead of an IndexError traceback. ``path, *rest = party.args(1, "mpcrun -n 3 x.py
        data_{pid}.txt")``."""
        if len(self.argv) < int(required):
            got = f"{len(self.argv)} argument{'s' * (len(self.argv) != 1)}"
            raise ConfigError(f"this script takes at least {required} argument{'s' * (required != 1)} "
                              f"after its path, got {got}; usage: {usage}")
        return list(self.argv)

    def section(self, label: str) -> contextlib.AbstractContextManager[None]:
        """Count the traffic of a block separately: ``with party.section("matmul"): ...``."""
        return self.channel.section(label)

    def stats(self) -> dict:
        """Bytes, messages and rounds of this party, total and per section; with a dealer link,
        ``"dealer"`` holds that link's totals (preprocessing traffic, party n-1 only after set-up);
        with ``preprocessing="ot"``, ``"offline"`` holds the OT offline phase's own counters (also
        included in ``"total"``, on tags of their own) and ``"online"`` the rest."""
        out = self.channel.stats()
        offline = out["sections"].get("offline")
        if offline is not None:
            out["offline"] = offline
            out["online"] = {k: v - offline[k] for k, v in out["total"].items()}
        link = getattr(self.preprocessing, "link", None)
        if link is not None:
            out["dealer"] = link.stats()["total"]
        return out

    # ------------------------------------------------------------------ secrets in and out

    def input(self, value: object = None, owner: int | None = None, *, dtype=None, shape=None, check: bool = True):
        """Secret-share an input.

        - ``party.input(value, owner=i)``: party i's value; the others call
          ``party.input(owner=i, shape=...)`` (same dtype). Returns one SecretTensor.
        - ``party.input(value)``: every party contributes a value of the same shape; returns
          the list of n SecretTensors, entry i holding party i's value.

        Values: numbers, lists, numpy arrays or torch tensors; ``dtype`` defaults to Fixed(16)
        (``mpc.Int64()`` for integers mod 2^64). Cost: no shares are sent; one small agreement
        round (12 words per party) checks that every party passed the same shape, dtype and
        owner. ``check=False`` skips it (0 rounds) when the program guarantees agreement.
        Under ``engine="gmw"`` there is no arithmetic sharing: ConfigError (use :meth:`input_bits`).
        """
        return io.share_input(self, value, owner, dtype, shape, check)

    def input_bits(self, value: object = None, owner: int | None = None, *, n: int | None = None,
                   width: int = 64, check: bool = True):
        """Secret-share integers as XOR-shared bits: a :class:`~mpc.tensor.secret_bits.SecretBits`.

        - ``party.input_bits(values, owner=i, width=w)``: party i's values (a 1-d sequence or
          array of integers, or one integer); the others call ``party.input_bits(owner=i, n=...,
          width=w)``. Returns one SecretBits of n elements of w bits.
        - ``party.input_bits(values, width=w)``: every party contributes n values; returns the
          list of n SecretBits, entry i holding party i's values.

        Values must fit in ``width`` bits (negatives as two's complement; checked before any
        message). Works under every engine (the GMW engine is always built; under spdz2k the bits
        are its authenticated bits). Cost: the agreement round of :meth:`input` (skipped with
        ``check=False``); then under GMW nothing (pairwise PRGs), under spdz2k one round in which
        the owner, or every party at once, sends its masked words (8 bytes per word) to each peer.
        """
        return io.share_bits(self, value, owner, n, width, check)

    def reveal(self, *values: SecretTensor | SecretBits, to: int | None = None, as_torch: bool = False):
        """Open ``values`` (SecretTensors and SecretBits); decoded NumPy values (a tuple when
        several), or ``None`` at every party but ``to`` when ``to`` is given. SecretTensors open
        in one round (Fixed values decode to floats, Int64 to int64: comparison results and
        argmax come out as integers), SecretBits in one round (uint64 arrays of length n); both
        kinds in one call: two rounds. Under spdz2k every reveal starts with the MAC check of all
        openings so far (3 rounds; none when nothing is pending), so no share of an output is sent
        before the values it was computed from are verified, and ends with the check of its own
        openings (3 rounds), one check for both kinds, before any value is returned.
        ``as_torch=True`` returns the SecretTensors' values as torch tensors (float64 / int64;
        torch is imported then, and only then)."""
        return io.reveal(self, values, to, as_torch)

    def preprocess(self, plan, *, progress: bool | str = False, stream=None) -> dict:
        """Offline phase: fetch the material of ``plan`` (a list of ``(kind, params)``, e.g. from
        :meth:`recording` or :meth:`dry_run`) now, so that the online phase needs no
        preprocessing traffic. Returns a report: ``items``, ``seconds``, ``bytes_sent`` and
        ``bytes_received`` (this party's offline or dealer-link traffic during the call) and
        ``peak_rss_bytes`` (the
        process's peak resident memory after the call: with threads as parties, the process's).

        ``progress``: True shows a bar at party 0, "all" at every party (to ``stream``, default
        stderr): redrawn on a terminal, one summary line otherwise (the bar is off in logs and
        under ``mpcrun``'s relay). With ``progress`` set the plan is fetched in up to 20
        consecutive chunks, so a source that batches a whole plan makes up to 20 batches instead
        of one; every party must pass the same ``progress`` (as every other argument of a
        collective call), since the parties must split the plan alike."""
        plan = list(plan)
        before = self._offline_traffic()
        bar = ProgressBar.at(progress, self.pid, len(plan), stream)
        # chunks by ``progress``, not by who shows the bar: every party must split the plan alike
        step = max(1, -(-len(plan) // PROGRESS_CHUNKS)) if progress else max(1, len(plan))
        t0 = time.perf_counter()
        for lo in range(0, len(plan), step):
            self.preprocessing.prefetch(plan[lo : lo + step])
            if bar:
                bar.update(min(len(plan), lo + step), "offline")
        # One full collection here, inside the offline phase's time: the online phase then starts
        # with the collector's counters at zero and the heap's survivors in the oldest generation,
        # instead of paying for the offline phase's allocations with a full collection in the
        # middle of its rounds (about a quarter of W5's online time at batch 64 without it).
        gc.collect()
        after = self._offline_traffic()
        report = {"items": len(plan), "seconds": time.perf_counter() - t0, "bytes_sent": after[0] - before[0],
                  "bytes_received": after[1] - before[1], "peak_rss_bytes": peak_rss_bytes()}
        if bar:
            bar.finish(f"offline: {report['items']} items in {report['seconds']:.1f} s, "
                       f"{report['bytes_sent'] / 1e6:.1f} MB sent, {report['bytes_received'] / 1e6:.1f} MB received, "
                       f"peak memory {report['peak_rss_bytes'] / 2**20:.0f} MiB")
        return report

    def _offline_traffic(self) -> tuple[int, int]:
        """(sent, received) bytes of preprocessing so far: the OT offline section or the dealer link."""
        stats = self.stats()
        part = stats.get("offline") or stats.get("dealer")
        return (int(part["bytes_sent"]), int(part["bytes_received"])) if part else (0, 0)

    def dry_run(self, fn, *tensors: SecretTensor | SecretBits) -> list:
        """The preprocessing plan of ``fn(*tensors)``, found without any communication (on
        shadow SecretTensors and SecretBits; see :mod:`mpc.runtime.dryrun`), comparisons and
        boolean circuits included (AND triples, daBits). Feed it to :meth:`preprocess`."""
        return dryrun.dry_run(self, fn, *tensors)

    def recording(self):
        """``with party.recording() as plan: ...`` records the material the block consumes."""
        return self.preprocessing.recording()

    def finish(self) -> None:
        """End of a successful session: the engine's closing checks (spdz2k: the final MAC check
        of every value opened since the last one). Called by the launcher and ``run_local`` after
        the protocol returns; communicates, so every party calls it."""
        if self.engine is not self.gmw:
            self.engine.finish()

    def close(self) -> None:
        """Release the preprocessing source and the channel (never communicates), and give the
        heap frozen at set-up back to the garbage collector (for every party of the process:
        with threads as parties, the others' collections are just slower until they close)."""
        try:
            self.preprocessing.close()
        finally:
            gc.unfreeze()
            self.channel.close()
