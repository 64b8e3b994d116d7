# -*- coding: utf-8 -*-
# Copyright: contributors to this project
# Apache-2.0
"""The antivirus checks: their catalogue (``CHECKS``) and what ClamAV and Defender share.

Pure Python, no I/O and no Ansible import. Each engine decides in its own file:
``antivirus_clamav.py`` (Linux, run by the ``antivirus_clamav`` module on the host) and
``antivirus_defender.py`` (Windows, run by the ``win_antivirus_defender`` action plugin on
the controller and by ``maintctl evaluate defender`` on saved JSON). Both engines produce
the same check ids, one ``Check`` each in ``CHECKS``; the policy keys and their defaults are
stated there once (``DEFAULTS``), and documented in ``schemas/policy/antivirus.schema.json``
and the role's ``meta/argument_specs.yml``. A value nobody read gives ``unknown``.
"""

from __future__ import annotations

import datetime

try:
    from ansible.module_utils.maint_result import (
        N_,
        Check,
        PolicyError,
        grade_high,
        guarded,
        number,
        policy_defaults,
        with_defaults,
    )
except ImportError:  # pragma: no cover - outside Ansible
    from maint_utils.maint_result import (
        N_,
        Check,
        PolicyError,
        grade_high,
        guarded,
        number,
        policy_defaults,
        with_defaults,
    )

# The check ids, used by the table below and by the engines.
CHECK_PRODUCT = "antivirus.product"
CHECK_PROTECTION = "antivirus.protection"
CHECK_SIGNATURES = "antivirus.signature_age"
CHECK_SCAN = "antivirus.scan_age"
CHECK_TAMPER = "antivirus.tamper_protection"
CHECK_THREATS = "antivirus.threats"
CHECK_DETECTION = "antivirus.detection_test"
CHECK_UPDATE = "antivirus.update"

_UNIT = "tests/unit/maint_utils/"
_LAB = "tests/integration/test_antivirus_lab.py::"
_ALL = ("ok", "warning", "critical", "unknown", "skipped")

CHECKS = (
    Check(
        id=CHECK_PRODUCT,
        measures="Whether an antivirus product is installed and active: ClamAV (clamscan or clamd) with a "
                 "signature database on Linux; Microsoft Defender in normal mode, or an enabled third-party "
                 "product in SecurityCenter2, on Windows (antivirus_defender:_defender_product)",
        policy={"linux_no_av_status": "critical"},
        statuses=("ok", "warning", "critical", "unknown"),
        decide="antivirus_clamav:_clamav_product",
        remediation=N_("Install ClamAV with a local or mirrored signature database, or record the exception in "
                       "the client's policy (antivirus.linux_no_av_status)."),
        unit_test=_UNIT + "test_antivirus_clamav.py::test_clamav_not_installed_follows_the_policy",
        lab_test=_LAB + "test_host_without_antivirus_follows_the_policy",
    ),
    Check(
        id=CHECK_PROTECTION,
        measures="Real-time protection: clamd and on-access scanning (clamonacc) running, from /proc, required "
                 "only when the policy says so (Linux); RealTimeProtectionEnabled and its components, or the "
                 "third-party product when Defender is passive (Windows, antivirus_defender:_defender_protection)",
        policy={"linux_require_daemon": False, "linux_require_on_access": False},
        statuses=("ok", "warning", "critical", "unknown"),
        decide="antivirus_clamav:_clamav_protection",
        remediation=N_("Start clamav-daemon and clamonacc (clamav-clamonacc.service) and enable them."),
        unit_test=_UNIT + "test_antivirus_clamav.py::test_clamav_protection_required_by_policy",
        lab_test=_LAB + "test_healthy_hosts_are_ok",
    ),
    Check(
        id=CHECK_SIGNATURES,
        measures="Age in days of the newest signatures: the build time of ClamAV's newest (daily) database "
                 "(sigtool --info, or the file date of header-less databases); Defender's "
                 "AntivirusSignatureAge and DefenderSignaturesOutOfDate (antivirus_defender:_defender_signatures)",
        policy={"signature_warn_days": 3, "signature_crit_days": 7},
        statuses=("ok", "warning", "critical", "unknown"),
        decide="antivirus_clamav:_clamav_signatures",
        remediation=N_("Run freshclam and read /var/log/clamav/freshclam.log; check the mirror or proxy."),
        unit_test=_UNIT + "test_antivirus_clamav.py::test_clamav_signature_age",
        lab_test=_LAB + "test_stale_host_follows_the_policy",
    ),
    Check(
        id=CHECK_SCAN,
        measures="Age in days of the last scan: the last summary of the scheduled clamscan --log file "
                 "(skipped without one); Defender's QuickScanAge and FullScanAge, 4294967295 or missing "
                 "meaning never (antivirus_defender:_defender_scan)",
        policy={"scan_warn_days": 7, "scan_crit_days": 30, "linux_scan_log": ""},
        statuses=_ALL,
        decide="antivirus_clamav:_clamav_scan",
        remediation=N_("Check the scheduled clamscan job and its log."),
        unit_test=_UNIT + "test_antivirus_clamav.py::test_clamav_scan_log",
        lab_test=_LAB + "test_healthy_hosts_are_ok",
    ),
    Check(
        id=CHECK_TAMPER,
        measures="Whether Microsoft Defender's tamper protection is on (IsTamperProtected); skipped for ClamAV "
                 "and for a passive Defender",
        policy={"tamper_protection_off_status": "warning"},
        statuses=_ALL,
        decide="antivirus_defender:_defender_tamper",
        remediation=N_("Turn tamper protection on (Windows Security or Intune/Defender portal)."),
        unit_test=_UNIT + "test_antivirus_defender.py::test_defender_fixture_statuses",
        lab_test="Windows only: recorded data (tests/fixtures/defender); the Linux lab hosts check that ClamAV "
                 "skips it (test_antivirus_lab.py::test_healthy_hosts_are_ok)",
    ),
    Check(
        id=CHECK_THREATS,
        measures="Threats: infected files of the last scan in the policy's scan log (Linux, linux_scan_log of "
                 "antivirus.scan_age); Get-MpThreatDetection of the last threat_days days, active or "
                 "unremediated ones critical (Windows, antivirus_defender:_defender_threats)",
        policy={"threat_days": 30, "remediated_threat_status": "warning"},
        statuses=_ALL,
        decide="antivirus_clamav:_clamav_threats",
        remediation=N_("Inspect and quarantine the files listed, then scan again."),
        unit_test=_UNIT + "test_antivirus_clamav.py::test_clamav_scan_log",
        lab_test=_LAB + "test_healthy_hosts_are_ok",
    ),
    Check(
        id=CHECK_DETECTION,
        measures="Whether the installed ClamAV engine and database detect the EICAR test file (a real scan of a "
                 "private temporary file, always removed); Linux only",
        policy={"detection_test": False},
        statuses=_ALL,
        decide="antivirus_clamav:_clamav_detection",
        remediation=N_("The engine or its database is broken: run freshclam, then clamscan an EICAR file by hand."),
        unit_test=_UNIT + "test_antivirus_clamav.py::test_clamav_eicar_not_detected_is_critical",
        lab_test=_LAB + "test_eicar_is_detected_for_real_and_removed",
    ),
    Check(
        id=CHECK_UPDATE,
        measures="The remediation run when the policy allows it, never in check mode: freshclam once, bounded "
                 "(Linux); Update-MpSignature and a quick scan started in the background (Windows, "
                 "antivirus_defender:_defender_updates)",
        policy={"update_signatures": False, "update_timeout_seconds": 60, "quick_scan_after_days": 0},
        statuses=("ok", "warning", "skipped"),
        decide="antivirus_clamav:_clamav_update",
        remediation=N_("Check the host's access to the ClamAV mirror (DNS, proxy, firewall) and run freshclam."),
        unit_test=_UNIT + "test_antivirus_clamav.py::test_clamav_update_results",
        lab_test=_LAB + "test_freshclam_failure_is_one_bounded_warning",
    ),
)
BY_ID = {check.id: check for check in CHECKS}
DEFAULTS = policy_defaults(CHECKS)
_MINIMUM = {"threat_days": 1, "update_timeout_seconds": 1}
_STATUS_CHOICES = {
    "remediated_threat_status": ("ok", "warning", "critical"),
    "tamper_protection_off_status": ("ok", "warning", "critical"),
    "linux_no_av_status": ("ok", "warning", "critical"),
}


def remediation(check):
    """The default remediation of the check id ``check``, from ``CHECKS``, as a message (``Msg``)."""
    return BY_ID[check].fix()


# --------------------------------------------------------------------------- policy
def effective_policy(section):
    """Return the policy section with defaults filled in, checking every value's type.

    Args:
        section: the ``maint_policy.antivirus`` mapping (may be ``None`` or empty).

    Returns:
        A new dict holding every key of ``DEFAULTS``.

    Raises:
        PolicyError: on an unknown key or a value of the wrong type.
    """
    merged = with_defaults(DEFAULTS, section)
    unknown = sorted(set(section or {}) - set(DEFAULTS))
    if unknown:
        raise PolicyError("unknown antivirus policy key(s): %s" % ", ".join(unknown))
    for key, value in merged.items():
        default = DEFAULTS[key]
        if isinstance(default, bool):
            if not isinstance(value, bool):
                raise PolicyError("antivirus.%s must be true or false, not %r" % (key, value))
        elif isinstance(default, int):
            minimum = _MINIMUM.get(key, 0)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < minimum:
                raise PolicyError("antivirus.%s must be a number >= %s, not %r" % (key, minimum, value))
        elif not isinstance(value, str):
            raise PolicyError("antivirus.%s must be a string, not %r" % (key, value))
        if key in _STATUS_CHOICES and value not in _STATUS_CHOICES[key]:
            raise PolicyError("antivirus.%s must be one of %s, not %r"
                              % (key, ", ".join(_STATUS_CHOICES[key]), value))
    for low, high in (("signature_warn_days", "signature_crit_days"), ("scan_warn_days", "scan_crit_days")):
        if merged[low] > merged[high]:
            raise PolicyError("antivirus.%s (%s) must not exceed antivirus.%s (%s)"
                              % (low, merged[low], high, merged[high]))
    return merged


def validate_policy(section):
    """Semantic checks of the policy's ``antivirus`` section for ``maintctl validate``.

    Returns:
        One line per problem (empty when the section is valid).
    """
    try:
        effective_policy(section)
    except PolicyError as exc:
        return ["maint_policy.antivirus: %s" % exc]
    return []


# --------------------------------------------------------------------------- shared by both engines
def age_threshold(policy, prefix):
    """The ``threshold`` of an age result: ``{"warn_days": ..., "crit_days": ...}`` of ``prefix``."""
    return {"warn_days": policy[prefix + "_warn_days"], "crit_days": policy[prefix + "_crit_days"]}


def grade_age(age_days, policy, prefix):
    """Grade an age in days; ``float('inf')`` (never) is critical, ``None`` unknown."""
    return grade_high(age_days, policy[prefix + "_warn_days"], policy[prefix + "_crit_days"])


def iso_utc(epoch):
    """Epoch seconds as an ISO 8601 UTC string (``...Z``); None when not a readable time."""
    epoch = number(epoch)
    if epoch is None:
        return None
    try:
        moment = datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).replace(microsecond=0)
    except (OverflowError, OSError, ValueError):
        return None
    return moment.isoformat().replace("+00:00", "Z")


def decide_one(check, item, func, *args):
    """Decide one check with ``guarded``: its result, or one unknown result on odd data."""
    return guarded(check, item, func, *args)[0]
