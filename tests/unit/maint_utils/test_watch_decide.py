"""The health watch's decisions (plugins/module_utils/watch_decide.py).

Failed logins are decided on journal lines recorded from the lab's db01 (see
tests/fixtures/watch/README.md for how); the Windows samples are built from Microsoft's
documentation of event 4625, not recorded (labelled so in the fixture).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from maint_utils import watch_decide as wd
from maint_utils.maint_result import PolicyError
from tests.conftest import assert_valid_results

ROOT = Path(__file__).resolve().parents[3]
FIXTURES = ROOT / "tests" / "fixtures" / "watch"
JOURNAL = FIXTURES / "journal-db01-failed-logins.jsonl"
WINDOWS = FIXTURES / "win-4625-documented.json"


def _valid(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for res in results:
        res.update(client="c", host="h", run_id="r")
    assert_valid_results(results)
    return results


def _journal() -> list[dict[str, Any]]:
    return [json.loads(line) for line in JOURNAL.read_text(encoding="utf-8").splitlines() if line.strip()]


def _by_item(results: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["item"]: r for r in results}


# -- policy ------------------------------------------------------------------------
def test_policy_defaults_and_errors() -> None:
    assert wd.effective_policy(None) == {"critical_services": [], "failed_logins_warn": 10, "failed_logins_crit": 50}
    # The probes' and the alerts' keys of the section are left alone.
    merged = wd.effective_policy({"probe_timeout_seconds": 5, "notify": {"email": []}, "failed_logins_warn": 3})
    assert merged["failed_logins_warn"] == 3 and "notify" not in merged
    for bad in ({"failed_logins_warn": 0}, {"failed_logins_crit": True}, {"failed_logins_warn": "10"},
                {"failed_logins_warn": 60, "failed_logins_crit": 50}, {"critical_services": "sshd"},
                {"critical_services": ["ssh d"]}, [1]):
        with pytest.raises(PolicyError):
            wd.effective_policy(bad)  # type: ignore[arg-type]


# -- service.systemd ------------------------------------------------------------------
def _unit(name: str, unit: str, load: str, active: str, sub: str) -> dict[str, str]:
    return {"name": name, "Id": unit, "LoadState": load, "ActiveState": active, "SubState": sub}


def test_systemd_failed_units_and_critical_services() -> None:
    policy = {"critical_services": ["sshd", "cron", "nosuch", "postgresql@15-main"]}
    facts = {"systemd": True, "failed": [],
             "services": [_unit("sshd", "ssh.service", "loaded", "active", "running"),
                          _unit("cron", "cron.service", "loaded", "failed", "failed"),
                          _unit("nosuch", "nosuch.service", "not-found", "inactive", "dead"),
                          _unit("postgresql@15-main", "postgresql@15-main.service", "loaded", "reloading", "reload")]}
    results = _by_item(_valid(wd.decide_systemd(facts, policy)))
    assert list(results) == ["sshd", "cron", "nosuch", "postgresql@15-main", "failed units"]
    assert results["sshd"]["status"] == "ok" and results["sshd"]["observed"]["unit"] == "ssh.service"
    assert results["cron"]["status"] == "critical" and "cron" in results["cron"]["remediation"]
    assert results["nosuch"]["status"] == "critical" and "no such unit" in results["nosuch"]["summary"]
    assert results["postgresql@15-main"]["status"] == "ok"
    assert results["failed units"]["status"] == "ok" and results["failed units"]["observed"]["count"] == 0
    # A failed unit that is not critical warns, listed; a critical one that failed makes the aggregate critical.
    facts["failed"] = ["lab-broken.service"]
    agg = _by_item(wd.decide_systemd(facts, policy))["failed units"]
    assert agg["status"] == "warning" and "lab-broken.service" in agg["summary"]
    assert agg["observed"]["failed"] == ["lab-broken.service"] and agg["remediation"]
    facts["failed"] = ["lab-broken.service", "cron.service"]
    agg = _by_item(wd.decide_systemd(facts, policy))["failed units"]
    assert agg["status"] == "critical" and agg["observed"]["critical"] == ["cron.service"]
    # The alias as written resolves through systemctl's Id: a failed ssh.service is the critical "sshd".
    facts["failed"] = ["ssh.service"]
    assert _by_item(wd.decide_systemd(facts, policy))["failed units"]["status"] == "critical"


def test_systemd_absent_or_unread_is_unknown_never_ok() -> None:
    policy = {"critical_services": ["sshd"]}
    results = _valid(wd.decide_systemd({"systemd": False, "failed": None, "services": []}, policy))
    assert [(r["item"], r["status"]) for r in results] == [("sshd", "unknown"), ("failed units", "unknown")]
    assert "does not run systemd" in results[-1]["summary"]
    results = _by_item(_valid(wd.decide_systemd(
        {"systemd": True, "failed": None, "failed_error": "Failed to connect to bus",
         "services": [{"name": "sshd", "error": "Failed to connect to bus"}]}, policy)))
    assert results["sshd"]["status"] == "unknown" and results["failed units"]["status"] == "unknown"
    assert "Failed to connect to bus" in results["failed units"]["summary"]
    # Odd collector output costs its own result only.
    for facts in ({"systemd": True, "failed": "x", "services": []},
                  {"systemd": True, "failed": [], "services": [{"name": "sshd", "LoadState": 3}]},
                  {"systemd": True, "failed": [], "services": []}, "junk"):
        results = _valid(wd.decide_watch_linux({"services": facts}, policy))
        systemd = [r for r in results if r["check"] == wd.SYSTEMD.id]
        assert systemd and "ok" not in {r["status"] for r in systemd if r["item"] == "sshd"}


def test_windows_services_on_documented_sample() -> None:
    facts = json.loads(WINDOWS.read_text(encoding="utf-8"))
    policy = {"critical_services": ["W32Time", "Spooler", "WindowsTime", "NoSuchService", "absent"]}
    results = _by_item(_valid(wd.decide_win_services(facts, policy)))
    assert results["W32Time"]["status"] == "ok"
    assert results["Spooler"]["status"] == "critical" and results["Spooler"]["observed"]["status"] == "Stopped"
    # Found by its display name (Get-Service -DisplayName): the item stays the name as written.
    assert results["WindowsTime"]["status"] == "ok" and results["WindowsTime"]["observed"]["unit"] == "W32Time"
    assert results["NoSuchService"]["status"] == "critical"
    assert results["absent"]["status"] == "unknown"  # not in the collector's answer: not read
    # Spooler stopped with exit code 1067 and is critical; sppsvc stopped with 0 is no failure.
    agg = results["failed units"]
    assert agg["status"] == "critical" and agg["observed"]["failed"] == ["Spooler"]
    agg = _by_item(wd.decide_win_services(facts, {"critical_services": []}))["failed units"]
    assert agg["status"] == "warning"
    agg = _by_item(wd.decide_win_services(dict(facts, failed=None, failed_error="Access denied"), None))
    assert agg["failed units"]["status"] == "unknown"


# -- security.failed_logins -------------------------------------------------------------
def test_failed_logins_on_recorded_journal() -> None:
    """db01's recording: 3 + 2 password failures, 1 unknown user, 1 wrong key, 1 su: 8; a banner scan and a login 0."""
    failures = wd.journal_failures(_journal())
    assert len(failures) == 8
    summary = wd.summarize(failures, since=1796186700, until=1796186900)
    assert summary["count"] == 8 and summary["since"] == "2026-12-02T04:45:00Z"
    groups = {(g["source"], g["user"]): g["count"] for g in summary["groups"]}
    assert groups == {("198.51.100.1", "maint"): 4, ("198.51.100.1", "admin"): 2,
                      ("198.51.100.1", "nosuchuser"): 1, ("local", "root"): 1}
    assert summary["groups"][0] == {"source": "198.51.100.1", "user": "maint", "count": 4}
    [result] = _valid(wd.decide_failed_logins(summary, {"failed_logins_warn": 5}))
    assert result["status"] == "warning" and result["observed"]["count"] == 8
    assert result["observed"]["since"] == "2026-12-02T04:45:00Z" and result["observed"]["until"]
    assert result["observed"]["sources"] == 2 and "198.51.100.1" in result["remediation"]
    assert "maint@198.51.100.1 x4" in result["summary"]
    [result] = wd.decide_failed_logins(summary, None)
    assert result["status"] == "ok" and result["threshold"] == {"warn": 10, "crit": 50}
    [result] = wd.decide_failed_logins(summary, {"failed_logins_warn": 2, "failed_logins_crit": 8})
    assert result["status"] == "critical"


def test_failed_logins_window_is_half_open() -> None:
    entries = _journal()
    stamps = sorted(int(e["__REALTIME_TIMESTAMP"]) for e in entries)
    first_sshd_failure = next(int(e["__REALTIME_TIMESTAMP"]) for e in entries
                              if e["MESSAGE"].startswith("Failed password"))
    # until is excluded, since included: the next watch starts where this one ended, without overlap.
    cut = first_sshd_failure / 1e6
    before = wd.journal_failures(entries, since=stamps[0] / 1e6, until=cut)
    after = wd.journal_failures(entries, since=cut, until=stamps[-1] / 1e6 + 1)
    assert len(before) + len(after) >= 8
    assert wd.journal_failures(entries, since=stamps[-1] / 1e6 + 1) == []


def test_failed_logins_line_shapes() -> None:
    """Lines of other OpenSSH versions and PAM services, as their source code writes them."""
    def entry(message: str, ident: str = "sshd", pid: str = "1") -> dict[str, str]:
        return {"MESSAGE": message, "SYSLOG_IDENTIFIER": ident, "_PID": pid}

    entries = [
        entry("Failed publickey for root from 2001:db8::7 port 4242 ssh2: RSA SHA256:abc", "sshd-session", "9"),
        entry("Failed none for invalid user  from 198.51.100.9 port 1 ssh2"),
        entry("Disconnected from invalid user oracle 198.51.100.8 port 22 [preauth]"),  # not "by": not counted
        entry("Connection closed by 198.51.100.8 port 23 [preauth]"),  # no user: a scan, not a login
        entry("pam_unix(login:auth): authentication failure; logname=LOGIN uid=0 euid=0 tty=tty1 ruser= rhost=  user=bob",
              "login"),
        entry("pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=198.51.100.9"),
        entry("Failed password for bob from 198.51.100.9 port 5 ssh2", "cron"),  # not sshd's
        {"MESSAGE": list(b"Invalid user \xff from 198.51.100.10 port 7"), "SYSLOG_IDENTIFIER": "sshd"},
        {"MESSAGE": None}, "junk",
    ]
    failures = wd.journal_failures(entries)
    pairs = sorted((f["source"], f["user"]) for f in failures)
    assert pairs == [("198.51.100.10", "\ufffd"), ("198.51.100.9", "?"), ("2001:db8::7", "root"), ("local", "bob")]


def test_failed_logins_unreadable_is_unknown() -> None:
    summary = wd.summarize([], readable=False, error="No journal files were found.", since=0, until=900)
    [result] = _valid(wd.decide_failed_logins(summary, None))
    assert result["status"] == "unknown" and "No journal files" in result["summary"]
    assert result["observed"] == {"since": "1970-01-01T00:00:00Z", "until": "1970-01-01T00:15:00Z"}
    for odd in ("junk", {"readable": True, "count": "many"}, {"readable": True, "count": -1}):
        [result] = _valid(wd.decide_failed_logins(odd, None))  # type: ignore[arg-type]
        assert result["status"] == "unknown"
    [result] = _valid(wd.decide_failed_logins(wd.summarize([], since=0, until=900), None))
    assert result["status"] == "ok" and "no failed login" in result["summary"]


def test_failed_logons_on_documented_4625_sample() -> None:
    facts = json.loads(WINDOWS.read_text(encoding="utf-8"))
    results = _valid(wd.decide_watch_windows(facts, {"critical_services": ["W32Time"]}))
    [logins] = [r for r in results if r["check"] == wd.FAILED_LOGINS.id]
    assert logins["status"] == "warning" and logins["observed"]["count"] == 16
    assert logins["observed"]["top"][0] == {"source": "198.51.100.201", "user": "WS01\\Administrator", "count": 12}
    assert logins["observed"]["since"] == "2026-11-22T21:00:00Z" and logins["observed"]["until"] == "2026-11-22T21:15:00Z"
    assert {"source": "local", "user": "CONTOSO\\Auditor", "count": 1} in logins["observed"]["top"]
    # A truncated read (the collector's limit) says "at least".
    facts["logon_failures"]["truncated"] = True
    [logins] = [r for r in wd.decide_watch_windows(facts, None) if r["check"] == wd.FAILED_LOGINS.id]
    assert logins["summary"].startswith("at least 16") and logins["observed"]["truncated"] is True
    # An unreadable Security log (not an administrator) is unknown.
    facts["logon_failures"] = {"readable": False, "error": "Attempted to perform an unauthorized operation.",
                               "since": "2026-11-22T21:00:00Z", "until": "2026-11-22T21:15:00Z"}
    [logins] = [r for r in wd.decide_watch_windows(facts, None) if r["check"] == wd.FAILED_LOGINS.id]
    assert logins["status"] == "unknown"


def test_iso_round_trip() -> None:
    assert wd.parse_iso("2026-12-02T04:45:00Z") == 1796186700
    assert wd.parse_iso("2026-12-02T05:45:00+01:00") == 1796186700
    assert wd.parse_iso("2026-12-02T04:45:00") == 1796186700
    assert wd.iso_utc(1796186700.9) == "2026-12-02T04:45:00Z"
    for bad in ("yesterday", "", None):
        with pytest.raises(ValueError):
            wd.parse_iso(bad)  # type: ignore[arg-type]
