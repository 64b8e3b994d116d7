"""Terminal progress for a run: rich when on a TTY, plain lines otherwise.

rich is imported only on a TTY: a run from a timer, a tick or ``run --all`` (no terminal) does not
pay for it.
"""

from __future__ import annotations

import sys
from collections import Counter
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.live import Live
    from rich.table import Table

from maintcore.store import Store

from . import orchestrator
from .orchestrator import RunOutcome, RunRequest


class Progress:
    """Follow ansible-runner events: hosts done out of total, play, task, findings so far."""

    def __init__(self, client: str, stream: Any = None) -> None:
        self.client = client
        self.stream = stream or sys.stdout
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.total = 0
        self.play = ""
        self.task = ""
        self.done: set[str] = set()
        self.findings: Counter[str] = Counter()
        self.live: Live | None = None
        self._next_play: str | None = None

    def start(self, run_id: str, run_dir: Any, hosts: list[str]) -> None:
        """Called once the run has an id."""
        self.total = len(hosts)
        self._line(f"run {run_id}: client {self.client}, {self.total} hosts, folder {run_dir}")
        if self.tty:
            from rich.console import Console
            from rich.live import Live

            self.live = Live(self._table(), console=Console(file=self.stream), refresh_per_second=4, transient=True)
            self.live.start()

    def _table(self) -> Table:
        from rich.table import Table

        table = Table.grid(padding=(0, 2))
        table.add_row("hosts done", f"{len(self.done)}/{self.total} in this play")
        table.add_row("play", self.play)
        table.add_row("task", self.task)
        table.add_row("findings", ", ".join(f"{k} {v}" for k, v in sorted(self.findings.items())) or "none yet")
        return table

    def _line(self, text: str) -> None:
        if self.live:
            self.live.console.print(text)
        else:
            print(text, file=self.stream, flush=True)

    def event(self, ev: dict[str, Any]) -> None:
        """Handle one ansible-runner event."""
        kind = ev.get("event", "")
        data = ev.get("event_data") or {}
        if kind == "playbook_on_play_start":
            # A play with no matching hosts (e.g. Windows on a Linux-only client) starts no
            # task; the count is only reset once a play really runs.
            self._next_play = data.get("play", "")
        elif kind == "playbook_on_task_start":
            if self._next_play is not None:
                self.play, self._next_play = self._next_play, None
                self.done.clear()
                if not self.tty:
                    self._line(f"play: {self.play}")
            self.task = data.get("task", "")
        elif kind in ("runner_on_ok", "runner_on_failed", "runner_on_unreachable"):
            self._host_event(kind, data)
        if self.live:
            self.live.update(self._table())

    def _host_event(self, kind: str, data: dict[str, Any]) -> None:
        res = data.get("res") or {}
        for rec in res.get("maint_results") or []:
            if isinstance(rec, dict) and rec.get("status") in ("warning", "critical", "unknown"):
                self.findings[rec["status"]] += 1
        host = data.get("host", "")
        if kind == "runner_on_unreachable":
            self.findings["unreachable"] += 1
            self._line(f"  {host}: unreachable")
        elif kind == "runner_on_failed" and not data.get("ignore_errors"):
            self._line(f"  {host}: task '{data.get('task')}' failed")
        if (res.get("maint_results") or kind != "runner_on_ok") and host not in self.done:
            self.done.add(host)
            if not self.tty:
                self._line(f"  {host}: done ({len(self.done)}/{self.total}) [{self.play}]")

    def stop(self) -> None:
        """Stop the live display."""
        if self.live:
            self.live.stop()
            self.live = None


def execute_with_progress(req: RunRequest, store: Store) -> RunOutcome:
    """Run ``req`` through the orchestrator with progress on the terminal."""
    progress = Progress(req.client)
    try:
        return orchestrator.execute(req, store, on_event=progress.event, on_start=progress.start)
    finally:
        progress.stop()
