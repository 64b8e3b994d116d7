# -*- coding: utf-8 -*-
# Copyright: contributors to this project
# Apache-2.0
"""Collect every check result of a play into results.jsonl, as it arrives."""

from __future__ import annotations

DOCUMENTATION = r"""
name: maint_collector
type: aggregate
short_description: Append every check result to a JSON Lines file as it arrives
description:
  - Picks every C(maint_results) list out of task results (including loop items)
    and appends one JSON line per result to O(results_file), flushed at once, so a
    controller killed with SIGKILL keeps every result received before the kill.
  - Turns unreachable hosts into C(run.reachability) results with status C(critical),
    failed tasks into C(run.task_failed) results with status C(unknown) (the value the
    task was meant to read was not read), and records C(run.reachability) C(ok) for
    every host that answered, when the play ends.
  - It never reads the result of a C(no_log) task, and it only copies the fields of
    the result shape; task arguments, facts and extra vars are never written.
  - For an ad hoc run (maintctl play or maintctl adhoc, whose extra var C(maint_adhoc_item) names the
    playbook or module), also records one C(adhoc.task) result per host when the play ends, with status
    C(critical) when a task failed or the host was unreachable, else C(ok); C(changed) is true when a
    task changed something (never in check mode); observed holds the recap's task counts. Without that
    extra var, nothing of this is written.
  - Does nothing when O(results_file) is not set, so plain ansible-playbook runs are unaffected.
requirements:
  - enabled in ansible.cfg (callbacks_enabled = maint_collector)
options:
  results_file:
    description: Path of the JSON Lines file to append to (created 0600).
    env:
      - name: MAINT_RESULTS_FILE
    ini:
      - section: maint_collector
        key: results_file
    type: path
  client:
    description: Client name written into every result.
    env:
      - name: MAINT_CLIENT
    ini:
      - section: maint_collector
        key: client
    type: str
    default: adhoc
  run_id:
    description: Run id written into every result.
    env:
      - name: MAINT_RUN_ID
    ini:
      - section: maint_collector
        key: run_id
    type: str
    default: adhoc
"""

import datetime
import importlib.util
import json
import os

from ansible import context
from ansible.plugins.callback import CallbackBase

_LOADER_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "module_utils", "maint_loader.py")


def _module_utils(*names):
    """Return the project's module_utils ``names`` (the last one), loaded with the shared loader.

    The callback runs in the controller's process: ``maint_result`` is loaded by its path through
    ``../module_utils/maint_loader.py``, or imported from the ``maint_utils`` package when this
    file was copied without the project's module_utils.
    """
    if os.path.isfile(_LOADER_PATH):
        spec = importlib.util.spec_from_file_location("maint_loader", _LOADER_PATH)
        loader = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(loader)
        return loader.load(*names)
    return importlib.import_module("maint_utils." + names[-1])  # pragma: no cover - a copy without module_utils


RESULT_FIELDS = ("check", "item", "status", "summary", "observed", "threshold",
                 "remediation", "changed", "started", "finished")
_RESULT = _module_utils("maint_result")
STATUSES = _RESULT.STATUSES
# A result's message (English template and raw parameters, rendered by the report in its locale).
M_, Msg = _RESULT.M_, _RESULT.Msg
# The check ids this callback makes itself, catalogued in checks.py.
_CHECKS = _module_utils("maint_result", "checks")
REACHABILITY, TASK_FAILED, INVALID_RESULT = _CHECKS.REACHABILITY, _CHECKS.TASK_FAILED, _CHECKS.INVALID_RESULT
ADHOC_TASK = _CHECKS.ADHOC_TASK
ADHOC_REMEDIATION = _CHECKS.ADHOC_CHECKS[0].remediation
ADHOC_ITEM_VAR = "maint_adhoc_item"
MAX_MSG = 300
# The recap's counts of an ad hoc run's tasks, per host (Ansible's ok includes the changed tasks).
ADHOC_COUNTS = (("ok", "ok"), ("changed", "changed"), ("failed", "failures"), ("unreachable", "unreachable"),
                ("skipped", "skipped"))


def _now():
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    return now.isoformat().replace("+00:00", "Z")


# What OpenSSH prints when it refuses a host's key (StrictHostKeyChecking=yes).
_KEY_CHANGED = ("REMOTE HOST IDENTIFICATION HAS CHANGED", "Host key for", "has changed and you have requested strict")
_KEY_UNKNOWN = ("No ED25519 host key is known", "No RSA host key is known", "No ECDSA host key is known",
                "host key is known for", "Host key verification failed")


def _host_key_problem(res):
    """Return ('changed'|'unknown', summary, remediation) when ssh refused the host's key, else None."""
    text = " ".join(str(res.get(key) or "") for key in ("msg", "stderr", "module_stderr"))
    if any(marker in text for marker in _KEY_CHANGED):
        return ("changed",
                M_("host key changed: ssh refused to connect (possible man-in-the-middle, or the host was "
                   "reinstalled); nothing was run on it"),
                "Verify the host's new key out of band (console, the client's IT contact), then replace its "
                "entry in the inventory's known_hosts file (ssh-keygen -R HOST -f FILE, then add the verified "
                "key). Never turn host key checking off.")
    if any(marker in text for marker in _KEY_UNKNOWN):
        return ("unknown",
                M_("host key unknown: the host is not in the inventory's known_hosts, so ssh refused to connect; "
                   "nothing was run on it"),
                "Record the host's key after verifying it out of band (ssh-keyscan HOST, compare the "
                "fingerprint with the host's console) in the inventory's known_hosts file.")
    return None


def _message(res):
    """One line of a failure message, bounded in length."""
    msg = res.get("msg") or res.get("stderr") or res.get("reason") or "no message"
    msg = " ".join(str(msg).split())
    return msg[:MAX_MSG]


class CallbackModule(CallbackBase):
    """Write check results to results.jsonl."""

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "maint_collector"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._path = None
        self._client = "adhoc"
        self._run_id = "adhoc"
        self._seen_hosts = set()
        self._unreachable = set()
        self._adhoc_item = None
        self._check_mode = False

    def set_options(self, task_keys=None, var_options=None, direct=None):
        super().set_options(task_keys=task_keys, var_options=var_options, direct=direct)
        self._path = self.get_option("results_file")
        self._client = self.get_option("client")
        self._run_id = self.get_option("run_id")

    # -- writing -------------------------------------------------------------
    def _append(self, records):
        if not self._path or not records:
            return
        fd = os.open(self._path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with os.fdopen(fd, "a", encoding="utf-8") as handle:
            for record in records:
                handle.write(json.dumps(record, sort_keys=True, ensure_ascii=False) + "\n")
            handle.flush()

    def _record(self, host, raw):
        """Copy only the result shape's fields out of one raw result."""
        if not isinstance(raw, dict):
            return None
        record = {key: raw.get(key) for key in RESULT_FIELDS}
        if record["status"] not in STATUSES or not record["check"]:
            record["summary"] = "invalid result from %s: %s" % (record.get("check"), record.get("status"))
            record["check"] = INVALID_RESULT
            record["status"] = "unknown"
        record["item"] = "" if record["item"] is None else str(record["item"])
        record["summary"] = str(record["summary"] or record["check"])
        message = raw.get("message")
        if isinstance(message, dict) and isinstance(message.get("id"), str) and isinstance(message.get("params"), dict):
            record["message"] = {"id": message["id"], "params": message["params"]}
            fix = message.get("remediation")
            if isinstance(fix, dict) and isinstance(fix.get("id"), str) and isinstance(fix.get("params"), dict):
                record["message"]["remediation"] = {"id": fix["id"], "params": fix["params"]}
        record["observed"] = record["observed"] if isinstance(record["observed"], dict) else {}
        record["threshold"] = record["threshold"] if isinstance(record["threshold"], dict) else {}
        record["remediation"] = str(record["remediation"] or "")
        record["changed"] = bool(record["changed"])
        record["finished"] = record["finished"] or _now()
        record["started"] = record["started"] or record["finished"]
        record.update(client=self._client, host=host, run_id=self._run_id)
        return record

    def _synthetic(self, host, check, status, summary, observed=None, remediation=""):
        """Return a result the collector makes itself; ``summary`` is a string or a ``Msg`` (then also message)."""
        now = _now()
        record = {
            "client": self._client, "host": host, "run_id": self._run_id, "check": check,
            "item": "", "status": status, "summary": summary, "observed": observed or {},
            "threshold": {}, "remediation": remediation, "changed": False,
            "started": now, "finished": now,
        }
        if isinstance(summary, Msg):
            record["summary"], record["message"] = summary.english(), summary.as_dict()
        return record

    def _extract(self, result):
        res = result._result
        if res.get("_ansible_no_log"):
            return []
        host = result._host.get_name()
        found = []
        for payload in [res] + [item for item in res.get("results", []) if isinstance(item, dict)]:
            if payload.get("_ansible_no_log"):
                continue
            for raw in payload.get("maint_results") or []:
                record = self._record(host, raw)
                if record:
                    found.append(record)
        return found

    def _adhoc_summary(self, host, counts):
        """Return the adhoc.task result of one host from its recap counts (ok, changed, failures, ...)."""
        observed = {name: int(counts.get(key, 0) or 0) for name, key in ADHOC_COUNTS}
        bad = observed["failed"] or observed["unreachable"]
        changed = bool(observed["changed"]) and not self._check_mode
        if observed["unreachable"]:
            outcome = "unreachable"
        elif observed["failed"]:
            outcome = "failed"
        elif observed["changed"]:
            outcome = "would change (check mode: nothing changed)" if self._check_mode else "changed"
        else:
            outcome = "ok, nothing changed" if not self._check_mode else "ok, nothing would change (check mode)"
        recap = ", ".join("%s %d" % (name, observed[name]) for name, _ in ADHOC_COUNTS)
        observed["check_mode"] = self._check_mode
        record = self._synthetic(
            host, ADHOC_TASK, "critical" if bad else "ok", "%s: %s (%s)" % (self._adhoc_item, outcome, recap),
            observed=observed,
            remediation=ADHOC_REMEDIATION if bad else "")
        record["item"] = self._adhoc_item
        record["changed"] = changed
        return record

    # -- hooks ---------------------------------------------------------------
    def v2_playbook_on_start(self, playbook):
        """Note whether this is an ad hoc run (the extra var maint_adhoc_item) and whether in check mode."""
        self._check_mode = bool(context.CLIARGS.get("check"))
        try:
            from ansible.utils.vars import load_extra_vars

            item = load_extra_vars(playbook._loader).get(ADHOC_ITEM_VAR)
        except Exception:  # noqa: BLE001 - Ansible itself reports bad extra vars; this only looks
            item = None
        self._adhoc_item = str(item)[:MAX_MSG] if item else None

    def v2_runner_on_ok(self, result):
        self._seen_hosts.add(result._host.get_name())
        self._append(self._extract(result))

    def v2_runner_on_failed(self, result, ignore_errors=False):
        host = result._host.get_name()
        self._seen_hosts.add(host)
        records = self._extract(result)
        if not ignore_errors:
            task = result._task.get_name()
            hidden = result._result.get("_ansible_no_log")
            msg = "output hidden (no_log)" if hidden else _message(result._result)
            records.append(self._synthetic(
                host, TASK_FAILED, "unknown",
                "task '%s' failed: %s" % (task, msg),
                observed={"task": task, "message": msg},
                remediation="Read the run's log for this host and fix the cause, then run again.",
            ))
        self._append(records)

    def v2_runner_on_unreachable(self, result):
        host = result._host.get_name()
        if host in self._unreachable:
            return
        self._unreachable.add(host)
        msg = _message(result._result)
        summary = M_("host unreachable: %(reason)s", reason=msg)
        remediation = "Check that the host is powered on and reachable over the network, and its credentials."
        observed = {"reachable": False, "message": msg}
        key = _host_key_problem(result._result)
        if key:
            observed["host_key"] = key[0]
            summary, remediation = key[1], key[2]
        self._append([self._synthetic(
            host, REACHABILITY, "critical", summary, observed=observed, remediation=remediation,
        )])

    def v2_runner_item_on_failed(self, result):
        # Loop items are handled through the parent task's result.
        return

    def v2_playbook_on_stats(self, stats):
        records = []
        for host in sorted(stats.processed.keys()):
            if host in self._unreachable or host not in self._seen_hosts:
                continue
            records.append(self._synthetic(host, REACHABILITY, "ok", M_("host answered"),
                                           observed={"reachable": True}))
        if self._adhoc_item:
            records += [self._adhoc_summary(host, stats.summarize(host)) for host in sorted(stats.processed.keys())]
        self._append(records)
