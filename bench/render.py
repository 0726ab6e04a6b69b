"""Regenerate ``bench/README.md`` and ``bench/plots/*.png`` from benchmark JSON lines.

    python -m bench render [bench/results/*.jsonl]

For each suite and network profile the newest run found in the files is used (lines carry ``run_id`` and
``timestamp`` from :mod:`bench.stamp`). One table per suite and workload with: system, engine,
parties, n, median seconds over the lines of the same measurement (and how many there were),
bytes (the busiest party's), rounds, phase, max abs error vs plaintext, the count of results off
by more than 2^-10, the ratio of the time to Tessera's on the same workload, size, party count
and phase, and notes. Runners that were not available or failed are listed under their suite,
never dropped. Plots: time and bytes against the input size, one line per system.

Field aliases accepted from the runners: ``workload`` or ``op`` (Tessera's ``mul``/``mul_trunc``
are W1, ``matmul`` is W2), ``n`` or ``size``.
"""

from __future__ import annotations

import json
import math
import statistics
import sys
from collections import defaultdict
from pathlib import Path

BENCH = Path(__file__).resolve().parent
README = BENCH / "README.md"
PLOTS = BENCH / "plots"

TOL_LABEL = "off by > 2^-10"
SUITE_ORDER = ["kernels", "net", "arith", "compare", "functions", "ml", "nn", "dp"]
SUITE_TITLES = {
    "kernels": "compiled kernels vs NumPy (one machine, no parties)",
    "net": "channels and network profiles",
    "arith": "W1 elementwise product, W2 matrix product",
    "compare": "W3 comparison x < y, W4 ReLU, sigmoid, softmax",
    "functions": "mpc.functions: exp, log, reciprocal, sqrt, rsqrt, tanh (sigmoid and softmax: suite compare)",
    "ml": "W5 MLP inference, W6 logistic regression epoch",
    "nn": "mpc.nn: W5 through from_torch, W7 LeNet-5 inference, W8 MLP training epoch",
    "dp": "differential-privacy noise: plaintext samplers beside OpenDP, joint noise in MPC",
}
WORKLOAD_TITLES = {
    "W1": "W1: elementwise product of secret Fixed vectors",
    "W2": "W2: matrix product n x n @ n x n",
    "W3": "W3: comparison x < y",
    "W4": "W4: ReLU",
    "W5": "W5: MLP 784-128-128-10 ReLU inference, batch n (weights from P0, input from P1)",
    "W6": "W6: logistic regression, one SGD epoch over n samples, batch 64, 100 features",
    "W7": "W7: LeNet-5 inference on 1x28x28 inputs, batch n",
    "W8": "W8: one training epoch of an MLP 64-128-10 on digits (1,437 samples, batch 64, SGD)",
    "exp": "exp on [-16, 10]",
    "log": "log on [1e-3, 1e4]",
    "reciprocal": "reciprocal on +-[1e-2, 1e4]",
    "sqrt": "sqrt on [1e-2, 1e4]",
    "rsqrt": "rsqrt on [1e-2, 1e4]",
    "tanh": "tanh on [-20, 20]",
}
LOCAL_SUITES = {"kernels", "net"}  # their ops are not the W-workloads, even when named mul/matmul
OP_TO_WORKLOAD = {"mul": "W1", "mul_trunc": "W1", "matmul": "W2", "lt": "W3", "less": "W3", "relu": "W4",
                  "mlp": "W5", "logreg": "W6"}
# Tessera's variant that is the reference for the ratio. For W1 it is ``mul`` (x*y as a user
# writes it): the product is exact at scale 2f, and its truncation costs no round or byte when it
# feeds another elementwise product (folded into that product's round, Semi2k.mul_truncating), so
# a layer of products costs what ``mul`` costs, as CrypTen's (local, probabilistic) truncation
# does. ``mul_trunc`` (a stand-alone truncation round) stays in the table.
PREFERRED_VARIANT = {"W1": "mul"}
PEER_WORKLOADS = {"W1", "W2", "W3", "W4", "W5", "W6"}

SYSTEM_COLORS = {"tessera": "#2ca02c", "crypten": "#1f77b4", "mpyc": "#ff7f0e"}
TESSERA_ENGINES = {  # DESIGN.md section 4
    "semi2k": ("semi-honest, dishonest majority (additive over Z_2^64, fixed point)",
               "TrustedDealer process (seed-compressed: party n-1 receives corrections, the others expand seeds)"),
    "spdz2k": ("malicious with abort, dishonest majority (SPDZ2k MACs)",
               "authenticated TrustedDealer process (it knows the MAC key), or dealer-free OT (every kind; bit protocols and division tuples slow)"),
    "gmw": ("semi-honest (XOR sharing of bits)", "TrustedDealer process: AND triples, daBits, bit-injection triples"),
    "masked2k": ("semi-honest, dishonest majority (masked Delta sharing over Z_2^64, as ABY2.0; semi2k's protocols "
                 "where an operand's mask is not the dealer's)",
                 "TrustedDealer process: products of the masks named by their tags, plus semi2k's material"),
}
STAMP_KEYS = {"machine", "commit", "versions", "settings", "run_id", "timestamp"}
KNOWN_KEYS = STAMP_KEYS | {
    "suite", "runner", "round", "system", "workload", "op", "engine", "backend", "parties", "n", "size", "phase",
    "seconds", "bytes", "rounds", "max_abs_err", "max_rel_err", "n_off", "n_results", "notes", "security", "preprocessing",
    "peer_versions", "status", "reason", "repeat", "bytes_total", "bytes_per_party", "bytes_counted_per_party",
    "cache_leftover", "threads_per_party", "number_type", "workloads", "notes_parties", "transport", "dtype",
    "kind", "peer", "venv", "detail", "step", "log", "shape", "seconds_wall", "profile", "delay_ms", "rate",
    "shaping", "earlier_run",
}
NOTE_KEYS = ("transport", "dtype", "number_type", "shaping", "notes_parties")


# ----------------------------------------------------------------------------------------------
# loading


def load(paths) -> list[dict]:
    recs = []
    for p in paths:
        p = Path(p)
        if not p.exists():
            continue
        for line in p.read_text(errors="replace").splitlines():
            line = line.strip()
            if not line.startswith("{"):
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(rec, dict):
                recs.append(rec)
    return recs


def _profile_of(r: dict) -> str:
    return (r.get("settings") or {}).get("profile") or r.get("profile") or "loopback"


def latest_per_suite(recs: list[dict]) -> dict[str, list[dict]]:
    """suite -> for each network profile, the lines of the newest run of that suite on it, plus,
    for each system and engine that run left out (e.g. a slow peer skipped with --peers, or
    Tessera's dealer lines beside a run of ``--preprocessing ot`` alone), its lines from the newest
    earlier run that measured it, each noted with the date and commit it was measured at, and the
    machine where it differs from the newest run's (tagged ``earlier_run``)."""
    by_suite: dict[tuple[str, str], dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for r in recs:
        by_suite[(r.get("suite") or "?", _profile_of(r))][r.get("run_id") or "?"].append(r)
    out: dict[str, list[dict]] = defaultdict(list)
    for (suite, _profile), runs in sorted(by_suite.items(), key=lambda kv: (kv[0][0], kv[0][1] != "loopback", kv[0][1])):
        order = sorted(runs, key=lambda rid: (max(x.get("timestamp") or "" for x in runs[rid]), rid), reverse=True)
        lines = list(runs[order[0]])
        def key(r: dict) -> tuple:
            return r.get("system"), r.get("engine")

        seen = {key(r) for r in lines if r.get("status") != "not-available"}
        newest_machine = _run_machine(runs[order[0]])
        for rid in order[1:]:
            older = [r for r in runs[rid] if key(r) not in seen and r.get("status") != "not-available"]
            if not older:
                continue
            note = f"measured in an earlier run ({_earlier_run_text(older, newest_machine)})"
            lines += [{**r, "earlier_run": True, "notes": "; ".join(x for x in (r.get("notes"), note) if x)}
                      for r in older]
            seen |= {key(r) for r in older}
        out[suite] += lines
    return dict(out)


def _run_machine(rs: list[dict]) -> dict | None:
    return next((r["machine"] for r in rs if r.get("machine")), None)


def _run_commit(rs: list[dict]) -> dict | None:
    return next((r["commit"] for r in rs if r.get("commit")), None)


def _other_machine(m: dict | None, newest: dict | None) -> bool:
    """Whether a run's machine is known to differ from the newest run's."""
    return bool(m and newest and m != newest)


def _earlier_run_text(rs: list[dict], newest_machine: dict | None) -> str:
    """'2026-12-04, commit 3e73cf4', plus 'on another machine' when the run's machine is not the newest
    run's: a line from another CPU (or another boot of the VM, which may be another host) is not
    comparable with its table's other lines at the precision of the ratio column."""
    when = max((r.get("timestamp") or "")[:10] for r in rs)
    sha = ((_run_commit(rs) or {}).get("sha") or "?")[:7]
    m = _run_machine(rs)
    where = ", on another machine: the runs above name it" if _other_machine(m, newest_machine) else ""
    return f"{when}, commit {sha}{where}"


def workload_of(r: dict) -> tuple[str, str]:
    """(workload, variant): Tessera's ops map to the W-numbers, the op name stays as the variant."""
    wl = r.get("workload")
    op = r.get("op")
    if wl:
        return str(wl), (str(op) if op and op != wl else "")
    if op:
        w = OP_TO_WORKLOAD.get(str(op)) if r.get("suite") not in LOCAL_SUITES else None
        return (w, str(op)) if w else (str(op), "")
    for k in ("kernel", "name", "group", "bench"):
        if r.get(k):
            return str(r[k]), ""
    return "?", ""


def _is_problem(r: dict) -> bool:
    """A not-available or failed line (a runner may also write status 'ok' on its results)."""
    return r.get("status") not in (None, "ok")


def _num(x):
    return x if isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) else None


def _median(xs):
    xs = [x for x in (_num(v) for v in xs) if x is not None]
    return statistics.median(xs) if xs else None


def rows_for(recs: list[dict]) -> dict[str, list[dict]]:
    """workload -> aggregated rows (one per system/engine/parties/n/phase)."""
    ok = [r for r in recs if not _is_problem(r)]
    groups: dict[tuple, list[dict]] = defaultdict(list)
    backends: dict[str, set] = defaultdict(set)
    for r in ok:
        wl, _ = workload_of(r)
        if r.get("backend"):
            backends[wl].add(r["backend"])
    for r in ok:
        wl, variant = workload_of(r)
        profile = _profile_of(r)
        if profile != "loopback":  # a table of its own: ratios and totals never mix networks
            wl = f"{wl}@{profile}"
        system = r.get("system") or "tessera"
        engine = str(r.get("engine") or "")
        if len(backends[_base(wl)]) > 1 and r.get("backend"):
            engine = f"{engine}/{r['backend']}" if engine else str(r["backend"])
        if variant:
            engine = f"{engine} [{variant}]" if engine else variant
        n = r.get("n", r.get("size"))
        key = (wl, system, engine, r.get("parties"), n if not isinstance(n, list) else str(n), r.get("phase") or "")
        groups[key].append(r)
    out: dict[str, list[dict]] = defaultdict(list)
    for key, rs in groups.items():
        wl, system, engine, parties, n, phase = key  # wl carries the profile (W1@lan)
        notes = []
        for r in rs:
            for txt in [r.get("notes")] + [f"{k}={r[k]}" for k in NOTE_KEYS if r.get(k) is not None and k != "notes_parties"] + [r.get("notes_parties")]:
                if txt and txt not in notes:
                    notes.append(str(txt))
        extras = {}
        for r in rs:
            for k, v in r.items():
                if k in KNOWN_KEYS or k in extras:
                    continue
                if isinstance(v, (int, float, str)) and not isinstance(v, bool):
                    extras[k] = _median([x.get(k) for x in rs]) if _num(v) is not None else v
        errs = [_num(r.get("max_abs_err")) for r in rs]
        offs = [_num(r.get("n_off")) for r in rs]
        out[wl].append({
            "workload": wl, "system": system, "engine": engine, "parties": parties, "n": n, "phase": phase,
            "seconds": _median(r.get("seconds") for r in rs), "samples": len(rs),
            "bytes": _median(r.get("bytes") for r in rs), "rounds": _median(r.get("rounds") for r in rs),
            "max_abs_err": max((e for e in errs if e is not None), default=None),
            "max_rel_err": max((e for e in (_num(r.get("max_rel_err")) for r in rs) if e is not None), default=None),
            "n_off": max((o for o in offs if o is not None), default=None),
            "n_results": max((_num(r.get("n_results")) or 0 for r in rs), default=0) or None,
            "notes": notes, "extras": extras,
            "security": rs[0].get("security"), "preprocessing": rs[0].get("preprocessing"),
            "peer_versions": rs[0].get("peer_versions"),
        })
    for wl, rows in out.items():
        _add_tessera_totals(rows)
        _add_ratios(wl, rows)
        rows.sort(key=_row_order)
    return out


def _base(wl: str) -> str:
    """The workload of a table key (``W1@lan`` -> ``W1``)."""
    return wl.split("@", 1)[0]


def _title(wl: str) -> str:
    base, _, profile = wl.partition("@")
    title = WORKLOAD_TITLES.get(base, base)
    return f"{title} ({profile} profile)" if profile else title


def _wl_order(wl: str) -> tuple:
    base, _, profile = wl.partition("@")
    return (base not in WORKLOAD_TITLES, base, ["", "lan", "wan"].index(profile) if profile in ("", "lan", "wan") else 3, profile)


def _row_order(row):
    sys_rank = {"tessera": 0, "crypten": 1, "mpyc": 2}.get(row["system"], 3)
    phase_rank = {"online": 0, "total": 1, "offline": 2}.get(row["phase"], 3)
    n = row["n"] if isinstance(row["n"], (int, float)) else 0
    return (n, row["parties"] or 0, sys_rank, row["engine"], phase_rank)


def _add_tessera_totals(rows: list[dict]) -> None:
    """Tessera reports offline and online; add their sum as phase 'total' to compare with peers."""
    idx = {(r["system"], r["engine"], r["parties"], r["n"], r["phase"]): r for r in rows}
    for (system, engine, parties, n, phase), r in list(idx.items()):
        if system != "tessera" or phase != "offline":
            continue
        on = idx.get((system, engine, parties, n, "online"))
        if on is None or (system, engine, parties, n, "total") in idx:
            continue
        if r["seconds"] is None or on["seconds"] is None:
            continue
        tot = dict(on)
        tot.update(phase="total", seconds=r["seconds"] + on["seconds"], samples=min(r["samples"], on["samples"]),
                   bytes=(r["bytes"] or 0) + (on["bytes"] or 0) if r["bytes"] is not None or on["bytes"] is not None else None,
                   rounds=(r["rounds"] or 0) + (on["rounds"] or 0) if r["rounds"] is not None or on["rounds"] is not None else None,
                   notes=["sum of the offline and online medians"] + [x for x in on["notes"] if x])
        rows.append(tot)


def _add_ratios(wl: str, rows: list[dict]) -> None:
    has_peers = any(r["system"] != "tessera" for r in rows)
    pref = PREFERRED_VARIANT.get(_base(wl))
    for r in rows:
        r["ratio"] = None
        r["ratio_ref"] = None
        if not has_peers or r["seconds"] is None:
            continue
        cands = [t for t in rows if t["system"] == "tessera" and t["n"] == r["n"] and t["parties"] == r["parties"]
                 and t["phase"] == r["phase"] and t["seconds"]]
        if not cands:
            continue
        cands.sort(key=lambda t: (pref is not None and not t["engine"].endswith(f"[{pref}]"),
                                  not t["engine"].startswith("semi2k"), t["engine"]))
        ref = cands[0]
        r["ratio"] = r["seconds"] / ref["seconds"]
        r["ratio_ref"] = ref["engine"]


# ----------------------------------------------------------------------------------------------
# formatting


def fmt_n(n) -> str:
    if isinstance(n, (int, float)) and not isinstance(n, bool):
        return f"{int(n):,}" if float(n).is_integer() else f"{n:g}"
    return "–" if n is None else str(n)


def fmt_s(x) -> str:
    if x is None:
        return "–"
    if x >= 100:
        return f"{x:.0f}"
    if x >= 1:
        return f"{x:.2f}"
    return f"{x:.3g}"


def fmt_bytes(b) -> str:
    if b is None:
        return "–"
    b = float(b)
    for unit, k in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if b >= k:
            return f"{b / k:.3g} {unit}"
    return f"{b:.0f} B"


def fmt_err(e) -> str:
    if e is None:
        return "–"
    return "0" if e == 0 else f"{e:.2g}"


def fmt_ratio(r) -> str:
    if r is None:
        return "–"
    return f"{r:,.0f}x" if r >= 100 else f"{r:.3g}x"


def fmt_num(x) -> str:
    if x is None:
        return "–"
    if isinstance(x, float):
        return f"{x:.3g}" if not x.is_integer() else f"{int(x)}"
    return str(x)


def _md(s) -> str:
    return str(s).replace("|", "\\|").replace("\n", " ")


def table(rows: list[dict], with_ratio: bool) -> list[str]:
    extra_keys: list[str] = []
    for r in rows:
        for k in r["extras"]:
            if k not in extra_keys and len(extra_keys) < 4:
                extra_keys.append(k)
    head = ["system", "engine", "parties", "n", "seconds (median)", "samples", "bytes", "rounds", "phase",
            "max abs error", TOL_LABEL]
    rel = any(r.get("max_rel_err") is not None for r in rows)
    if rel:
        head.append("max rel error")
    if with_ratio:
        head.append("ratio vs Tessera")
    head += extra_keys + ["notes"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        off = "–" if r["n_off"] is None else (f"{int(r['n_off'])}" + (f" / {int(r['n_results']):,}" if r["n_results"] else ""))
        cells = [r["system"], r["engine"] or "–", fmt_num(r["parties"]), fmt_n(r["n"]), fmt_s(r["seconds"]),
                 str(r["samples"]), fmt_bytes(r["bytes"]), fmt_num(r["rounds"]), r["phase"] or "–",
                 fmt_err(r["max_abs_err"]), off]
        if rel:
            cells.append(fmt_err(r.get("max_rel_err")))
        if with_ratio:
            cells.append(fmt_ratio(r["ratio"]))
        cells += [fmt_num(r["extras"].get(k)) for k in extra_keys]
        cells.append("; ".join(r["notes"]) or "")
        lines.append("| " + " | ".join(_md(c) for c in cells) + " |")
    return lines


# ----------------------------------------------------------------------------------------------
# plots


def plot(suite: str, wl: str, rows: list[dict], outdir: Path) -> Path | None:
    pts = [r for r in rows if r["phase"] != "offline" and isinstance(r["n"], (int, float)) and r["seconds"]]
    if not pts:
        return None
    # one line per system/engine/party count: its online time where it has one, else its total;
    # for Tessera only the variant that is the ratio reference (e.g. mul for W1)
    pref = PREFERRED_VARIANT.get(_base(wl))
    if pref and any(r["engine"].endswith(f"[{pref}]") for r in pts if r["system"] == "tessera"):
        pts = [r for r in pts if r["system"] != "tessera" or r["engine"].endswith(f"[{pref}]")]
    has_online = {(r["system"], r["engine"], r["parties"]) for r in pts if r["phase"] == "online"}
    pts = [r for r in pts if r["phase"] == "online" or (r["system"], r["engine"], r["parties"]) not in has_online]
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    series: dict[tuple, list[dict]] = defaultdict(list)
    for r in pts:
        series[(r["system"], r["engine"], r["parties"] or 0, r["phase"])].append(r)
    if len({r["n"] for r in pts}) == 1:
        return _bars(suite, wl, series, outdir, plt)
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    colors = {}
    palette = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    party_styles = ["-", "--", ":", "-."]
    parties_seen = sorted({k[2] for k in series})
    for key, rs in sorted(series.items()):
        system, engine, parties, phase = key
        color = colors.setdefault((system, engine), palette[len(colors) % len(palette)])
        style = party_styles[parties_seen.index(parties) % len(party_styles)]
        label = f"{system} {engine} {parties}p ({phase})".replace("  ", " ")
        rs.sort(key=lambda r: r["n"])
        ns = [r["n"] for r in rs]
        axes[0].plot(ns, [r["seconds"] for r in rs], marker="o", color=color, linestyle=style, label=label)
        bs = [(r["n"], r["bytes"]) for r in rs if r["bytes"]]
        if bs:
            axes[1].plot([b[0] for b in bs], [b[1] for b in bs], marker="o", color=color, linestyle=style, label=label)
    title = _title(wl)
    for ax, ylabel in ((axes[0], "seconds (median)"), (axes[1], "bytes (busiest party)")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("n (input size)")
        ax.set_ylabel(ylabel)
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_title(f"{suite}: {title}"[:90], fontsize=9)
    axes[1].set_title("bytes sent", fontsize=9)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=3, fontsize=7, frameon=False)
    fig.tight_layout(rect=(0, 0.12 + 0.03 * (len(labels) // 3), 1, 1))
    outdir.mkdir(parents=True, exist_ok=True)
    path = outdir / f"{suite}_{wl}.png".replace("/", "_").replace("@", "_")
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def _bars(suite: str, wl: str, series: dict, outdir: Path, plt) -> Path:
    """One input size only: horizontal bars of time and bytes, one bar per system line."""
    keys = sorted(series, key=lambda k: ({"tessera": 0, "crypten": 1, "mpyc": 2}.get(k[0], 3), k))
    labels = [f"{s} {e} {p}p ({ph})".replace("  ", " ") for s, e, p, ph in keys]
    secs = [series[k][0]["seconds"] for k in keys]
    byts = [series[k][0]["bytes"] or 0 for k in keys]
    fig, axes = plt.subplots(1, 2, figsize=(12, 1.2 + 0.32 * len(keys)), layout="constrained")
    palette = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    systems = sorted({k[0] for k in keys})
    colors = [SYSTEM_COLORS.get(k[0], palette[systems.index(k[0]) % len(palette)]) for k in keys]
    axes[0].barh(range(len(keys)), secs, color=colors)
    axes[1].barh(range(len(keys)), byts, color=colors)
    axes[0].set_yticks(range(len(keys)), labels, fontsize=7)
    axes[1].set_yticks(range(len(keys)), [""] * len(keys))
    n = series[keys[0]][0]["n"]
    axes[0].set_title(f"{suite}: {_title(wl)}, n={fmt_n(n)}"[:90], fontsize=9)
    axes[0].set_xlabel("seconds (median, log scale)")
    axes[1].set_xlabel("bytes sent by the busiest party (log scale)")
    axes[1].set_title("bytes", fontsize=9)
    from matplotlib.ticker import NullFormatter

    for ax, vals in zip(axes, (secs, byts), strict=True):
        ax.invert_yaxis()
        if not any(v and v > 0 for v in vals):
            ax.set_xlabel("(no bytes: local measurement)" if ax is axes[1] else "")
            continue
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.grid(True, axis="x", which="both", alpha=0.3)
    outdir.mkdir(parents=True, exist_ok=True)
    path = outdir / f"{suite}_{wl}.png".replace("/", "_").replace("@", "_")
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


# ----------------------------------------------------------------------------------------------
# README


def _commit_text(c: dict | None) -> str:
    if not c:
        return "unknown"
    return f"`{c.get('sha')}`" + (" with uncommitted changes" if c.get("uncommitted") else "")


def _machine_text(m: dict) -> str:
    cpu = ", ".join(x for x in (m.get("cpu"), m.get("cpu_id"), m.get("isa") and f"kernels {m['isa']}") if x)
    return f"{cpu}, {m.get('cores')} cores, {m.get('memory_gb')} GB RAM, {m.get('os', '')}"


def _machine_line(recs: list[dict]) -> tuple[str, str, str, dict | None]:
    recs = sorted(recs, key=lambda r: r.get("timestamp") or "", reverse=True)  # the newest run first
    m, c = _run_machine(recs), _run_commit(recs)
    v = next((r["versions"] for r in recs if r.get("versions")), None)
    isa = m.get("isa") if m else None
    if m and not isa:  # a run stamped before the field: its kernel lines say which code they ran
        isa = next((r.get("isa") for r in recs if r.get("isa") and r.get("backend") == "c"
                    and r.get("machine") == m), None)
    mline = _machine_text({**m, "isa": isa}) if m else "unknown"
    cline = _commit_text(c) + " (the newest run; each run's own below)"
    vline = ", ".join(f"{k} {val}" for k, val in v.items()) if v else "unknown"
    return mline, cline, vline, m  # m: the newest run's machine, which the machine row names


TRANSPORT_NOTES = {
    "local-threads": [
        "Setting: Tessera lines marked `transport=processes-zmq-loopback` run one process per party plus the",
        "dealer process, started by `mpcrun` over ZeroMQ on loopback TCP (plaintext), as the peers run (one",
        "process per party over TCP; CrypTen: gloo, MPyC: asyncio); lines marked `transport=local-threads`",
        "(from earlier runs or `--transport local`) run all parties as threads over in-process channels, the",
        "engine's cost without sockets. Tessera lines without an accuracy value come from runners that did",
        "not report one.",
    ],
    "processes-zmq+shm-loopback": [
        "Transports on one host: Tessera lines marked `transport=processes-zmq+shm-loopback` run as `mpcrun -n`",
        "does by default on one host: payloads of 1 MiB and more (64 KiB and more in runs at commits after",
        "cbf848a) go through a shared-memory ring per pair of parties (`mpc/net/shm_ring.py`), headers and",
        "small messages over loopback TCP. Engines ending in",
        "` tcp` (`transport=processes-zmq-loopback`) are the same runs with `--shm off`: every byte over",
        "loopback TCP, as the peers send theirs. The ratio column uses the default line; compare the `tcp`",
        "row for the like-for-like figure.",
    ],
}


ENCRYPTED_RINGS = "processes-zmq+shm-loopback-encrypted"


def _rings_note(recs: list[dict]) -> list[str]:
    """What the encrypted default's shared-memory rings carried in these tables: AES-GCM records
    (sealed) or the payloads, as ``--shm auto`` chose on the host (``rings_sealed``; records
    from before the choice existed were always sealed), per commit when the runs differ."""
    by_value: dict[bool, set[str]] = defaultdict(set)
    for r in recs:
        if r.get("transport") == ENCRYPTED_RINGS:
            by_value[bool(r.get("rings_sealed", True))].add(((r.get("commit") or {}).get("sha") or "?")[:7])
    if not by_value:
        return []
    words = {True: "sealed (AES-GCM records)", False: "unsealed (the payloads)"}
    if len(by_value) == 1:
        how = words[next(iter(by_value))]
    else:
        how = " and ".join(f"{words[v]} in the runs at {', '.join(sorted(by_value[v]))}" for v in (False, True))
    return [
        "Encrypted lines: engines ending in ` encrypted` run `mpcrun -n` without `--insecure-plaintext`: CURVE",
        "for the set-up, then every message as AES-256-GCM records (before 2026-12-06: payloads of 128 KiB and",
        "more only, the rest on CURVE; the line's commit says which), and same-host payloads of 1 MiB",
        "and more (64 KiB after cbf848a) through the shared-memory rings, which `--shm auto` seals only where the host restricts",
        "ptrace (elsewhere any process of the user can read the parties' memory anyway: docs/security.md,",
        f"Transport). Here the rings of those lines were {how}. Engines ending in ` encrypted sealed`",
        "(`--shm sealed`) seal every ring: what sealing costs.",
        "",
    ]


def render(paths, readme: Path = README, plots_dir: Path = PLOTS) -> Path:
    recs = load(paths)
    per_suite = latest_per_suite(recs)
    installs = per_suite.pop("peers", [])
    used = [r for rs in per_suite.values() for r in rs]
    mline, cline, vline, page_machine = _machine_line(used or installs)  # a run row names its own where it differs
    out = [
        "# Tessera benchmarks",
        "",
        "<!-- Generated by bench/render.py from bench/results/*.jsonl: do not edit by hand. -->",
        "",
        "Reproduce everything with one command from the repository root:",
        "",
        "    make bench          # = .venv/bin/python -m bench all --profile all (installs the peers into bench/.peers/ first)",
        "",
        "A smoke run: `python -m bench all --quick`; one suite: `python -m bench arith --parties 2,3 "
        "--peers crypten,mpyc --repeats 3`; emulated networks (root): `--profile lan` (1 Gbit/s, 0.1 ms) or "
        "`wan` (100 Mbit/s, 40 ms), every process in its own network namespace, the rate by `tc tbf`, the "
        "delay by netem or, where the kernel has none, by `bench/netdelay.py` over NFQUEUE (its rule added by "
        "`iptables` or, without it, by the daemon itself through the kernel's xtables socket); "
        "their results go to `bench/results/<suite>-<profile>.jsonl` and get tables of their own; redraw this "
        "page: `python -m bench render`. A full loopback run takes about two hours on a 2-core machine, much of "
        "it MPyC (pure Python, W1 at 10^6 takes minutes per run; `--peers crypten` leaves it out); the lan and "
        "wan runs here (2 parties, CrypTen beside, MPyC left out) took about one hour each.",
        "",
        "| | |",
        "|---|---|",
        f"| machine | {_md(mline)} |",
        f"| commit | {_md(cline)} |",
        f"| driver | {_md(vline)} |",
    ]
    for suite in _suites_sorted(per_suite):
        by_profile: dict[str, list[dict]] = defaultdict(list)
        for r in per_suite[suite]:
            by_profile[_profile_of(r)].append(r)
        for profile, rs in by_profile.items():
            label = suite if profile == "loopback" else f"{suite}` on `{profile}"
            by_run: dict[str, list[dict]] = defaultdict(list)
            for r in sorted(rs, key=lambda r: bool(r.get("earlier_run"))):  # the newest run first
                by_run[r.get("run_id") or "?"].append(r)
            newest_machine = None
            for i, run in enumerate(by_run.values()):
                st = next((r.get("settings") for r in run if r.get("settings")), {}) or {}
                ts = sorted(r.get("timestamp") or "" for r in run)
                desc = ", ".join(f"{k}={v}" for k, v in st.items() if k != "suite" and v not in (None, []))
                commit = _commit_text(_run_commit(run))
                m = _run_machine(run)
                if i == 0:
                    newest_machine, head = m, f"run `{label}`"
                    other = _other_machine(m, page_machine)  # e.g. a lan run kept from another VM
                else:
                    head = f"earlier run kept in `{label}` (its lines say so)"
                    other = _other_machine(m, newest_machine)
                if other:
                    commit += f", on {_machine_text(m)}"
                out.append(f"| {head} | {ts[0] if ts else '?'} .. {ts[-1] if ts else '?'}, commit {commit} "
                           f"(`python -m bench {st.get('suite', suite)}`; {_md(desc)}) |")
    out += [
        "",
        "**Read the times with care.** The machine has 2 cores and is shared: other work ran during these",
        "measurements, so every time is the median over interleaved rounds (the runners of a suite run one",
        "after the other in each round, so load bursts hit every system alike) and differences under ~30% are",
        "noise. `bytes` is what the busiest party sent; `rounds` are each system's own count (CrypTen counts",
        "communication calls, MPyC counts none). Accuracy is against float64 plaintext on the same inputs.",
        "`ratio vs Tessera` is the time divided by Tessera's on the same workload, size, party count and phase",
        "(Tessera's `total` is its offline plus online median). For W1 the reference is Tessera's `[mul]`, x*y",
        "as written: exact at scale 2f, one round, and its truncation is folded into the round of the next",
        "elementwise product or square at no extra byte (CrypTen truncates locally, with ~120 results per 10^6",
        "off by 1.0). `[mul_trunc]` adds a stand-alone exact truncation round, which a product pays only when a",
        "matrix product or an explicit `.truncate()` consumes it; `[matmul]` defers its truncation the same way.",
        "",
    ]
    for transport, text in TRANSPORT_NOTES.items():  # what a transport label means, when a table has it
        if any(r.get("transport") == transport for r in used):
            out += [*text, ""]
    out += _rings_note(used)
    # systems legend
    systems: dict[tuple, dict] = {}
    for rs in per_suite.values():
        for r in rs:
            if r.get("system") and r.get("system") != "tessera" and r.get("security") and not _is_problem(r):
                systems.setdefault((r["system"], r.get("engine")), r)
    if systems:
        out += ["## Systems", "", "| system | engine | security | preprocessing | versions |", "|---|---|---|---|---|"]
        engines = sorted({str(r.get("engine")) for rs in per_suite.values() for r in rs
                          if (r.get("system") or "tessera") == "tessera" and r.get("engine") in TESSERA_ENGINES})
        for e in engines or ["semi2k"]:
            sec, pre = TESSERA_ENGINES[e]
            out.append(f"| tessera | {e} | {sec} | {pre} | this commit |")
        for (s, e), r in sorted(systems.items(), key=lambda kv: (kv[0][0], str(kv[0][1]))):
            vers = ", ".join(f"{k} {v}" for k, v in (r.get("peer_versions") or {}).items())
            out.append(f"| {s} | {e} | {_md(r.get('security') or '–')} | {_md(r.get('preprocessing') or '–')} | {_md(vers)} |")
        out.append("")
    if installs:
        out += ["## Peer installation (`python -m bench peers install`)", "", "| peer | status | detail |", "|---|---|---|"]
        for r in installs:
            detail = r.get("reason") if r.get("status") != "ok" else r.get("detail")
            out.append(f"| {r.get('peer')} | {r.get('status')} | {_md(detail or '')} |")
        out.append("")
    plots_dir.mkdir(parents=True, exist_ok=True)
    made: set[Path] = set()
    for suite in _suites_sorted(per_suite):
        rs = per_suite[suite]
        out += [f"## Suite `{suite}`: {SUITE_TITLES.get(suite, '')}".rstrip(": "), ""]
        st = next((r.get("settings") for r in rs if r.get("settings")), {}) or {}
        if st.get("quick"):
            out += ["Quick run (`--quick`): small sizes and few repeats; see the notes column.", ""]
        rows = rows_for(rs)
        for wl in sorted(rows, key=_wl_order):
            out += [f"### {_title(wl)}", ""]
            with_ratio = any(r["system"] != "tessera" for r in rows[wl])
            out += table(rows[wl], with_ratio)
            out.append("")
            png = plot(suite, wl, rows[wl], plots_dir)
            if png is not None:
                made.add(png)
                rel = png.relative_to(readme.parent) if png.is_relative_to(readme.parent) else png
                out += [f"![{suite} {wl}: time and bytes against n]({rel.as_posix()})", ""]
        bad = [r for r in rs if _is_problem(r)]
        if bad:
            out += ["### Not available or failed", "", "| system | runner | status | workloads | reason |", "|---|---|---|---|---|"]
            seen = set()
            for r in bad:
                key = (r.get("runner"), r.get("status"), r.get("reason"), r.get("workload"))
                if key in seen:
                    continue
                seen.add(key)
                wls = r.get("workload") or ",".join(r.get("workloads") or []) or "–"
                out.append(f"| {r.get('system') or '?'} | {_md(r.get('runner') or '–')} | {r.get('status')} | {wls} | "
                           f"{_md(r.get('reason') or '')} |")
            out.append("")
        if not rows and not bad:
            out += ["No results.", ""]
    for stale in plots_dir.glob("*.png"):  # plots of workloads no longer in the results
        if stale not in made:
            stale.unlink()
    readme.write_text("\n".join(out).rstrip() + "\n")
    return readme


def _suites_sorted(per_suite: dict) -> list[str]:
    return sorted(per_suite, key=lambda s: (SUITE_ORDER.index(s) if s in SUITE_ORDER else 99, s))


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    paths = [Path(a) for a in argv] or sorted((BENCH / "results").glob("*.jsonl"))
    print(render(paths))
    return 0


if __name__ == "__main__":
    sys.exit(main())
