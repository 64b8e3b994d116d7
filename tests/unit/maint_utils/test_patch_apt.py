"""Patch decide code for apt (plugins/module_utils/patch_apt.py): dpkg snapshots and logs."""

from __future__ import annotations

import datetime as dt

from maint_utils import patch_apt
from maint_utils import patch_decide as pd
from tests.unit.maint_utils.test_patch_decide import FIX, NOW, by_check, policy, scan_facts


def test_last_patched_from_recorded_history_and_dpkg_log() -> None:
    history = (FIX / "apt" / "history.log").read_text()
    when = patch_apt.last_upgrade_from_history(history)
    assert when == dt.datetime(2026, 11, 22, 21, 31, 36)           # the Upgrade transaction, not the Install one
    assert patch_apt.last_upgrade_from_dpkg_log((FIX / "apt" / "dpkg.log").read_text()) == dt.datetime(2026, 11, 22, 21, 31, 37)
    assert patch_apt.last_upgrade_from_history("Start-Date: 2026-11-20  10:00:00\nInstall: a:amd64 (1)\n") is None
    failed = "Start-Date: 2026-11-21  10:00:00\nUpgrade: a:amd64 (1, 2)\nError: Sub-process returned an error\n"
    assert patch_apt.last_upgrade_from_history(failed) is None
    res = by_check(pd.scan_results(scan_facts(last_upgrade=NOW - dt.timedelta(days=40)), policy(), NOW))
    assert res["patch.last_patched"]["status"] == "warning" and res["patch.last_patched"]["observed"]["days"] == 40.0


# -- installed package snapshots (dpkg-query, rpm -qa) and their diff ----------------------------------

DPKG_QUERY = (  # dpkg-query -W -f '${Package}\t${Architecture}\t${Version}\t${db:Status-Status}\n' (format of dpkg 1.21)
    "bash\tamd64\t5.2.15-2+b8\tinstalled\n"
    "lab-libsafe\tall\t1.0+sec1\thalf-configured\n"
    "lab-kernel\tall\t1.0\tconfig-files\n"
    "lab-gone\tall\t\tnot-installed\n"
    "libc6\tamd64\t2.36-9+deb12u9\tinstalled\n"
    "libc6\ti386\t2.36-9+deb12u9\tinstalled\n"
    "man-db\tamd64\t2.11.2-2\ttriggers-pending\n"
)


def test_parse_dpkg_snapshot() -> None:
    snap = patch_apt.parse_dpkg_snapshot(DPKG_QUERY)
    assert snap == {"bash:amd64": ["5.2.15-2+b8"], "lab-libsafe:all": ["1.0+sec1 (half-configured)"],
                    "libc6:amd64": ["2.36-9+deb12u9"], "libc6:i386": ["2.36-9+deb12u9"],
                    "man-db:amd64": ["2.11.2-2"]}
    assert patch_apt.snapshot_version(snap, "bash", "amd64") == "5.2.15-2+b8"
    assert patch_apt.snapshot_version(snap, "lab-libsafe", "amd64") == "1.0+sec1 (half-configured)"
    assert patch_apt.snapshot_version(snap, "libc6:i386", "amd64") == "2.36-9+deb12u9"
    assert patch_apt.snapshot_version(snap, "lab-kernel", "amd64") is None


