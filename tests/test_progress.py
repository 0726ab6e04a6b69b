"""Party.preprocess's report and progress bar (mpc.runtime.progress), dealer and OT sources."""

from __future__ import annotations

import io

import numpy as np
import pytest

from mpc.errors import ProtocolError
from mpc.runtime.progress import ProgressBar, peak_rss_bytes
from mpc.testing import run_local


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _plan_and_run(p, progress, stream):
    x = p.input(np.arange(-8, 8).reshape(4, 4) if p.pid == 0 else None, owner=0, shape=(4, 4))
    plan = p.dry_run(lambda a: (a * a).relu(), x)
    report = p.preprocess(plan, progress=progress, stream=stream)
    sent_before = p._offline_traffic()
    y = p.reveal((x * x).relu())  # served from the store: no preprocessing traffic
    return report, p._offline_traffic() == sent_before, y, len(plan)


@pytest.mark.parametrize("source", ["ot", "dealer"])
@pytest.mark.parametrize("n", [2, 3])
def test_report_counts_the_offline_traffic_and_the_online_phase_adds_none(source, n):
    streams = [_Terminal() for _ in range(n)]
    res = run_local(lambda p: _plan_and_run(p, True, streams[p.pid]), n, preprocessing=source)
    for report, quiet_online, y, items in res:
        np.testing.assert_allclose(y, np.arange(-8, 8).reshape(4, 4) ** 2, atol=1e-3)  # relu(x^2) = x^2
        assert report["items"] == items > 0 and report["seconds"] >= 0
        assert report["peak_rss_bytes"] >= 10 * 2**20  # a Python process with NumPy loaded
        assert quiet_online
    total_sent = sum(r[0]["bytes_sent"] for r in res)
    total_received = sum(r[0]["bytes_received"] for r in res)
    assert total_sent > 0 and total_received > 0
    if source == "ot":  # pairwise traffic only: what one party sends, another receives
        assert total_sent == total_received
    # the bar at party 0 only: redrawn in place on a terminal, then one summary line
    text = streams[0].getvalue()
    assert text.count("\roffline [") >= 1 and text.endswith(" MiB\n") and f"offline: {res[0][0]['items']} items" in text
    assert all(s.getvalue() == "" for s in streams[1:])


def test_progress_all_and_a_log_stream_get_the_summary_line_only():
    streams = [io.StringIO() for _ in range(2)]
    run_local(lambda p: _plan_and_run(p, "all", streams[p.pid]), 2, preprocessing="ot")
    for s in streams:
        lines = s.getvalue().splitlines()
        assert len(lines) == 1 and lines[0].startswith("offline: ") and "\r" not in s.getvalue()


def test_parties_that_split_the_plan_differently_fail_loudly():
    """``progress`` decides the chunks: a party passing another value splits the plan otherwise,
    and the OT source's shape checks catch the mismatch (never a hang)."""
    with pytest.raises(ProtocolError):
        run_local(lambda p: _plan_and_run(p, p.pid == 0, io.StringIO()), 2, preprocessing="ot", timeout=20)


def test_bar_draws_and_finishes():
    term = _Terminal()
    bar = ProgressBar(4, term)
    bar.update(1, "x")
    bar.update(4, "x")
    bar.finish("done")
    assert term.getvalue() == "\rx [#####...............] 1/4\rx [####################] 4/4\rdone\n"
    log = io.StringIO()
    bar = ProgressBar(4, log)
    bar.update(2, "x")
    bar.finish("done")
    assert log.getvalue() == "done\n"
    assert peak_rss_bytes() > 0
