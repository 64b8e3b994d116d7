"""Run progress on a plain (non-TTY) stream, and on a terminal (rich, imported only there)."""

from __future__ import annotations

import io

from maintctl.progress import Progress


def _ev(kind: str, **data: object) -> dict:
    return {"event": kind, "event_data": data}


def test_plain_progress_counts_hosts_and_findings_and_skips_empty_plays() -> None:
    out = io.StringIO()
    progress = Progress("acme", stream=out)
    progress.start("r1", "/tmp/r1", ["a", "b"])
    progress.event(_ev("playbook_on_play_start", play="Hardware (Linux)"))
    progress.event(_ev("playbook_on_task_start", task="collect"))
    progress.event(_ev("runner_on_ok", host="a", res={"maint_results": [{"status": "critical"}, {"status": "ok"}]}))
    progress.event(_ev("runner_on_unreachable", host="b", res={}))
    progress.event(_ev("playbook_on_play_start", play="Hardware (Windows)"))  # no hosts: no task starts
    progress.stop()
    text = out.getvalue()
    assert "play: Hardware (Linux)" in text and "Hardware (Windows)" not in text
    assert "a: done (1/2)" in text and "b: unreachable" in text and "b: done (2/2)" in text
    assert progress.findings == {"critical": 1, "unreachable": 1}


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_terminal_progress_draws_the_live_table_and_prints_the_lines_above_it() -> None:
    out = _Terminal()
    progress = Progress("acme", stream=out)
    progress.start("r2", "/tmp/r2", ["a"])
    assert progress.live is not None
    progress.event(_ev("playbook_on_play_start", play="Hardware (Linux)"))
    progress.event(_ev("playbook_on_task_start", task="collect"))
    progress.event(_ev("runner_on_ok", host="a", res={"maint_results": [{"status": "warning"}]}))
    progress.stop()
    text = out.getvalue()
    assert "run r2: client acme, 1 hosts" in text and "1/1 in this play" in text
    assert "Hardware (Linux)" in text and "warning 1" in text
    assert progress.findings == {"warning": 1}
