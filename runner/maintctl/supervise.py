"""Supervision cycles: ``maintctl probe`` and ``maintctl watch`` for one client, once.

``maintctl tick`` starts them on the policy's ``schedule.probe`` / ``schedule.watch`` intervals;
a technician or a test runs one cycle now, with the same effect on alerts. Each cycle holds
its own per-client lock (``probe-<client>``, ``watch-<client>``): a cycle still running when
the next one falls due makes that one skip (exit 4), never queue, and a nightly window never
stops supervision.

* probe: from the controller, no Ansible: a TCP connect to each host's management port and
  the policy's service probes (:mod:`maintcore.probes`), recorded by
  :func:`maintcore.supervision.observe` with the probe interval, so availability is measured
  in minutes.
* watch: ``playbooks/watch.yml``, one module call per host, run like any run (ansible-runner,
  artifacts, the collector) with the kind ``watch``.

After either, alerts not acknowledged in time are escalated and the notification outbox is
flushed (:mod:`maintcore.notify`).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

from maint_utils import maint_clock
from maintcore import inventory, notify, probes, supervision
from maintcore.config import atomic_write_json, maint_home
from maintcore.errors import InvalidInput
from maintcore.store import Store

from . import policy, schedule
from .orchestrator import EXIT_FINDINGS, EXIT_OK, RunRequest, exclusive_lock, execute, new_run_id

DEFAULT_PROBE_S = 60
DEFAULT_WATCH_S = 300


class Secrets:
    """The client's vault variables, read through ``ansible-inventory`` only when first needed."""

    def __init__(self, client: str, hostvars: dict[str, dict[str, Any]] | None = None) -> None:
        self.client = client
        self._hostvars = hostvars

    def __call__(self, name: str) -> str | None:
        """Return the value of vault variable ``name``, or None when it is not set."""
        if self._hostvars is None:
            self._hostvars = policy.inventory_listing(self.client)[1]
        for values in self._hostvars.values():
            value = values.get(name)
            if isinstance(value, str) and value:
                return value
        return None


def after_cycle(store: Store, client: str, pol: dict[str, Any], secret: Callable[[str], str | None],
                now: dt.datetime | None = None) -> list[str]:
    """Escalate what is overdue, then send what the outbox holds; return one line per problem."""
    now = now or maint_clock.now()
    supervision.escalate_due(store, client, pol, now)
    report = notify.flush(store, client, secret, pol, now=now)
    return [f"{client}: notification: {line}" for line in report.lines]


def probe_cycle(client: str, store: Store) -> tuple[int, list[dict[str, Any]], supervision.Outcome]:
    """Run one probe cycle of a client; return (exit code, results, alert outcome)."""
    policy.require_valid(client)
    pol = inventory.load_policy(client)
    interval = schedule.cycles(pol).get("probe", DEFAULT_PROBE_S)
    section = supervision.supervision_policy(pol)
    with exclusive_lock(f"probe-{client}", f"probe of client {client!r} is still running ({{holder}})"):
        hosts, hostvars = policy.inventory_listing(client)
        targets = probes.targets_for({h: hostvars[h] for h in hosts}, section)
        now = maint_clock.now()
        run_id = "probe-" + new_run_id(now)
        results = probes.run_probes(targets, timeout=float(section.get("probe_timeout_seconds", 5)),
                                    concurrency=int(section.get("probe_concurrency", 200)), now=now)
        for res in results:  # stamped with maint_clock's "now" (the test clock, in tests)
            res["client"], res["run_id"] = client, run_id
            res["severity"] = policy.severity_for(pol, res["check"], res["status"])
        run = {"run_id": run_id, "kind": "probe", "areas": "probe", "started": maint_clock.to_iso(now),
               "finished": maint_clock.to_iso(maint_clock.now()), "hosts_total": len(hosts),
               "exit_code": EXIT_FINDINGS if any(r["status"] != "ok" for r in results) else EXIT_OK}
        outcome = supervision.observe(store, client, run, results, pol, interval_s=interval)
        problems = after_cycle(store, client, pol, Secrets(client, hostvars))
    for line in problems:
        print(line)
    return run["exit_code"], results, outcome


def _watch_state_path(client: str) -> Any:
    return maint_home() / "supervision" / client / "watch.json"


def watch_since(client: str) -> dict[str, str]:
    """Return where each host's last watch stopped reading its logins (host -> ISO time)."""
    path = _watch_state_path(client)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise InvalidInput(f"{path}: unreadable watch state ({exc}); delete it to start afresh") from None
    return {str(k): str(v) for k, v in (data.get("since") or {}).items()} if isinstance(data, dict) else {}


def _save_since(client: str, previous: dict[str, str], results: list[dict[str, Any]]) -> None:
    since = dict(previous)
    for res in results:
        until = (res.get("observed") or {}).get("until")
        if res["check"] == "security.failed_logins" and isinstance(until, str) and until:
            since[res["host"]] = until
    atomic_write_json(_watch_state_path(client), {"since": since})


def watch_cycle(client: str, store: Store, limit: str | None = None) -> tuple[int, list[dict[str, Any]]]:
    """Run one health watch of a client (playbooks/watch.yml); return (exit code, results)."""
    previous = watch_since(client)
    req = RunRequest(client=client, areas=["hardware"], limit=limit, kind="watch", playbook="watch.yml",
                     extravars={"watch_since": previous})
    outcome = execute(req, store)
    _save_since(client, previous, outcome.results)
    pol = inventory.load_policy(client)
    for line in after_cycle(store, client, pol, Secrets(client)):
        print(line)
    return outcome.exit_code, outcome.results
