# -*- coding: utf-8 -*-
# Copyright: contributors to this project
# Apache-2.0
"""Decide the antivirus checks of Microsoft Defender (Windows) from the collected facts.

Pure Python, no I/O and no Ansible import: the ``win_antivirus_defender`` action plugin runs
it on the controller after the PowerShell module collected, and ``maintctl evaluate
defender`` on saved ``Get-MpComputerStatus | ConvertTo-Json`` output. The check ids, policy
defaults and default remediations are the catalogue's (``antivirus_decide.CHECKS``).
"""

from __future__ import annotations

import datetime
import json
import re

try:
    from ansible.module_utils.antivirus_decide import (
        CHECK_PRODUCT,
        CHECK_PROTECTION,
        CHECK_SCAN,
        CHECK_SIGNATURES,
        CHECK_TAMPER,
        CHECK_THREATS,
        CHECK_UPDATE,
        age_threshold,
        decide_one,
        effective_policy,
        grade_age,
        iso_utc,
        remediation,
    )
    from ansible.module_utils.maint_result import M_, N_, Msg, guarded, make_result, number, worst
except ImportError:  # pragma: no cover - outside Ansible
    from maint_utils.antivirus_decide import (
        CHECK_PRODUCT,
        CHECK_PROTECTION,
        CHECK_SCAN,
        CHECK_SIGNATURES,
        CHECK_TAMPER,
        CHECK_THREATS,
        CHECK_UPDATE,
        age_threshold,
        decide_one,
        effective_policy,
        grade_age,
        iso_utc,
        remediation,
    )
    from maint_utils.maint_result import M_, N_, Msg, guarded, make_result, number, worst


# Defender reports "never" as the largest uint32; anything this large is not an age.
NEVER = 4294967295
_NEVER_FLOOR = 65535


# --------------------------------------------------------------------------- normalising (any serialisation)
_DATE_MS_RE = re.compile(r"^/Date\((-?\d+)([+-]\d{4})?\)/$")
_RUNNING_MODES = {
    "normal": "normal",
    "passive": "passive",
    "passive mode": "passive",
    "sxs passive mode": "sxs_passive",
    "sxs passive": "sxs_passive",
    "edr block mode": "edr_block",
    "edr block": "edr_block",
    "not running": "not_running",
}
_THREAT_STATUS = {
    0: "unknown", 1: "detected", 2: "cleaned", 3: "quarantined", 4: "removed", 5: "allowed", 6: "blocked",
    102: "clean_failed", 103: "quarantine_failed", 104: "remove_failed", 105: "allow_failed",
    106: "abandoned", 107: "block_failed",
}
_THREAT_STATUS_BY_NAME = {name.replace("_", ""): name for name in _THREAT_STATUS.values()}
_THREAT_UNREMEDIATED = {"unknown", "detected", "clean_failed", "quarantine_failed", "remove_failed",
                        "allow_failed", "abandoned", "block_failed"}
_THREAT_REMEDIATED = {"cleaned", "quarantined", "removed", "blocked"}


def parse_ps_date(value):
    """Parse a PowerShell-serialised date into UTC epoch seconds (or None).

    Accepts Windows PowerShell 5.1's ``/Date(1700000000000)/`` (with an optional
    ``+0100`` suffix; the milliseconds are UTC), its object form
    ``{"value": "/Date(...)/", "DateTime": "..."}``, and PowerShell 7's ISO 8601 strings
    (``2023-11-14T22:13:20.1234567+01:00``, ``...Z``, or naive, read as UTC).
    """
    if isinstance(value, dict):
        value = value.get("value", value.get("DateTime"))
    if not isinstance(value, str) or not value.strip():
        return None
    value = value.strip()
    match = _DATE_MS_RE.match(value)
    if match:
        ms = int(match.group(1))
        return None if ms <= 0 else ms / 1000.0
    iso = value.replace("Z", "+00:00")
    iso = re.sub(r"(\.\d{6})\d+", r"\1", iso)
    try:
        moment = datetime.datetime.fromisoformat(iso)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    epoch = moment.timestamp()
    # 1601-01-01 (FILETIME zero) and 1600-12-31 mean "not set".
    return None if epoch < 0 else epoch


def _bool(value):
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0", "yes", "no"):
        return value.strip().lower() in ("true", "1", "yes")
    return None


def _int(value):
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        value = number(value)
        return None if value is None else int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None


def _age_days_or_never(value):
    """Defender ages in days: None when missing, ``inf`` for never (4294967295 or >= 65535)."""
    age = _int(value)
    if age is None:
        return None
    if age >= _NEVER_FLOOR or age < 0:
        return float("inf")
    return age


def running_mode(value):
    """Normalise AMRunningMode ("Normal", "Passive Mode", "EDR Block Mode"...) to a short name."""
    if isinstance(value, str):
        return _RUNNING_MODES.get(value.strip().lower(), value.strip().lower() or None)
    return None


def decode_product_state(state):
    """Decode a SecurityCenter2 ``productState`` (WSC_SECURITY_PRODUCT_STATE bit fields).

    Bits 12-15 hold the scanner state (0 off, 1 on, 2 snoozed, 3 expired), bits 8-11 the
    owner (1 = Windows / Microsoft) and bits 4-7 the signature status (0 up to date,
    1 out of date). 397568 (0x61100) is "on, up to date"; 393472 (0x60100) is "off".
    """
    value = _int(state)
    if value is None and isinstance(state, str) and state.lower().startswith("0x"):
        try:
            value = int(state, 16)
        except ValueError:
            value = None
    if value is None:
        return None
    scanner = (value >> 12) & 0xF
    signatures = (value >> 4) & 0xF
    return {
        "state": value,
        "hex": "0x%06X" % value,
        "scanner": {0: "off", 1: "on", 2: "snoozed", 3: "expired"}.get(scanner, "unknown"),
        "enabled": scanner == 1,
        "up_to_date": signatures == 0,
        "microsoft": ((value >> 8) & 0xF) == 1,
    }


def _threat_status(value):
    number = _int(value)
    if number is not None:
        return _THREAT_STATUS.get(number, "unknown")
    if isinstance(value, str):
        return _THREAT_STATUS_BY_NAME.get(value.replace("_", "").replace(" ", "").lower(), "unknown")
    return "unknown"


_STATUS_BOOLS = ("AMServiceEnabled", "AntivirusEnabled", "AntispywareEnabled", "RealTimeProtectionEnabled",
                 "OnAccessProtectionEnabled", "IoavProtectionEnabled", "BehaviorMonitorEnabled",
                 "IsTamperProtected", "DefenderSignaturesOutOfDate", "NISEnabled")
_STATUS_STRINGS = ("AMEngineVersion", "AMProductVersion", "AMServiceVersion", "AntivirusSignatureVersion",
                   "NISEngineVersion", "ComputerID")


def normalize_computer_status(raw):
    """Normalise ``Get-MpComputerStatus`` (any serialisation) into plain typed values.

    Defender platforms before 4.18 (4.10.x: Windows 10 1607, Windows Server 2016 without
    the platform update) have no ``AMRunningMode``: there is no passive mode to report.
    When it is absent (or null, as the collector's Select-Object writes a missing
    property) and the service and the antivirus are both enabled, Defender is the active
    antivirus: the mode is read as ``normal`` and ``AMRunningModeInferred`` is set.
    """
    status = {key: _bool(raw.get(key)) for key in _STATUS_BOOLS}
    status.update({key: raw.get(key) if isinstance(raw.get(key), str) else None for key in _STATUS_STRINGS})
    status["AMRunningMode"] = running_mode(raw.get("AMRunningMode"))
    status["AMRunningModeInferred"] = False
    if raw.get("AMRunningMode") is None and status["AMServiceEnabled"] and status["AntivirusEnabled"]:
        status["AMRunningMode"] = "normal"
        status["AMRunningModeInferred"] = True
    status["AntivirusSignatureAge"] = _age_days_or_never(raw.get("AntivirusSignatureAge"))
    status["QuickScanAge"] = _age_days_or_never(raw.get("QuickScanAge"))
    status["FullScanAge"] = _age_days_or_never(raw.get("FullScanAge"))
    for key in ("AntivirusSignatureLastUpdated", "QuickScanEndTime", "FullScanEndTime"):
        status[key] = parse_ps_date(raw.get(key))
    return status


def _looks_like_status(data):
    return isinstance(data, dict) and any(key in data for key in (
        "AMServiceEnabled", "AntivirusEnabled", "RealTimeProtectionEnabled", "AntivirusSignatureAge"))


def defender_facts_from_json(data):
    """Recognise the accepted input shapes and return ``(facts, error)``.

    Accepted: the module's return (``{"defender": {...}}``), its ``defender`` dict
    (``{"computer_status": {...}, "threats": [...], "products": [...]}``), or a plain
    ``Get-MpComputerStatus | ConvertTo-Json`` object (or a one-element list of it).
    """
    if isinstance(data, list) and len(data) == 1:
        data = data[0]
    if isinstance(data, dict) and isinstance(data.get("defender"), dict):
        data = data["defender"]
    if isinstance(data, dict) and "computer_status" in data:
        if data["computer_status"] is not None and not _looks_like_status(data["computer_status"]):
            return None, "computer_status holds no Get-MpComputerStatus fields"
        return data, None
    if _looks_like_status(data):
        return {"computer_status": data, "threats": None, "active_threats": None, "products": None,
                "source": "Get-MpComputerStatus"}, None
    return None, "not Get-MpComputerStatus output nor the collector's JSON (no AMServiceEnabled, " \
                 "AntivirusEnabled or RealTimeProtectionEnabled field)"


# --------------------------------------------------------------------------- decide
def defender_remediation_args(policy):
    """The ``win_antivirus_defender`` module options that carry the policy's remediation choices.

    The one place the policy is turned into the PowerShell module's options (the action plugin
    calls it); the module itself holds no threshold.
    """
    policy = effective_policy(policy)
    return {
        "update_signatures": bool(policy["update_signatures"]),
        "update_if_age_days": int(policy["signature_warn_days"]),
        "quick_scan_after_days": int(policy["quick_scan_after_days"]),
        "threat_days": int(policy["threat_days"]),
    }


def _third_party(products):
    """Enabled non-Microsoft products from SecurityCenter2 (None when SecurityCenter2 was not read)."""
    if products is None:
        return None
    active = []
    for product in _products(products):
        decoded = decode_product_state(product.get("productState"))
        if decoded and decoded["enabled"] and not decoded["microsoft"]:
            active.append({"name": product.get("displayName") or "unnamed product", **decoded})
    return active


def _products(products):
    """The SecurityCenter2 entries that are mappings (one dict alone is a list of one)."""
    if isinstance(products, dict):
        products = [products]
    return [p for p in products if isinstance(p, dict)] if isinstance(products, list) else []


def _products_observed(products):
    if products is None:
        return None
    listed = []
    for product in _products(products):
        decoded = decode_product_state(product.get("productState")) or {}
        listed.append({"name": product.get("displayName"), "state": decoded.get("hex"),
                       "scanner": decoded.get("scanner"), "up_to_date": decoded.get("up_to_date")})
    return listed


_RUN_STATUS = M_("Run Get-MpComputerStatus on the host.")
_SAVE = M_("Save the output of: Get-MpComputerStatus | ConvertTo-Json")


def _defender_product(st, products, third):
    mode = st["AMRunningMode"]
    observed = {"defender_mode": mode, "AMServiceEnabled": st["AMServiceEnabled"],
                "AntivirusEnabled": st["AntivirusEnabled"], "AMProductVersion": st["AMProductVersion"],
                "AMEngineVersion": st["AMEngineVersion"], "securitycenter_products": _products_observed(products)}
    defender_active = mode == "normal" and st["AMServiceEnabled"] and st["AntivirusEnabled"]
    if defender_active:
        template = N_("Microsoft Defender Antivirus active (normal mode), product %(product)s, engine %(engine)s")
        if st.get("AMRunningModeInferred"):
            template = N_("Microsoft Defender Antivirus active (no AMRunningMode on this platform; service and "
                          "antivirus enabled), product %(product)s, engine %(engine)s")
            observed["defender_mode_inferred"] = True
        return make_result(CHECK_PRODUCT, "defender", "ok",
                           Msg(template, {"product": str(st["AMProductVersion"]),
                                          "engine": str(st["AMEngineVersion"])}), observed)
    if third:
        names = ", ".join("%s (%s)" % (p["name"], p["hex"]) for p in third)
        return make_result(CHECK_PRODUCT, "third_party", "ok",
                           M_("active antivirus: %(products)s; Microsoft Defender in %(mode)s mode", products=names,
                              mode=mode or "unknown"),
                           observed)
    if mode is None and st["AntivirusEnabled"] is None and st["AMServiceEnabled"] is None:
        return make_result(CHECK_PRODUCT, "defender", "unknown",
                           M_("Defender's running mode and state could not be read"), observed, {},
                           M_("Run Get-MpComputerStatus on the host and check the Defender service (WinDefend)."))
    if products is None and mode in ("passive", "sxs_passive", "edr_block"):
        return make_result(CHECK_PRODUCT, "defender", "unknown",
                           M_("Microsoft Defender in %(mode)s mode and SecurityCenter2 not available (Windows "
                              "Server?): cannot confirm that another antivirus is active", mode=mode), observed, {},
                           M_("Confirm the third-party antivirus on this host by hand."))
    return make_result(CHECK_PRODUCT, "defender", "critical",
                       M_("no active antivirus: Microsoft Defender mode %(mode)s (service %(service)s, antivirus "
                          "%(antivirus)s) and no other enabled product in SecurityCenter2", mode=str(mode),
                          service=[_onoff(st["AMServiceEnabled"])], antivirus=[_onoff(st["AntivirusEnabled"])]),
                       observed, {},
                       M_("Re-enable Microsoft Defender Antivirus (or install the client's antivirus) at once."))


def _onoff(value):
    return {True: M_("on"), False: M_("off")}.get(value) or M_("unknown")


_PASSIVE_MODES = ("passive", "sxs_passive", "edr_block")


def _defender_protection(st, third):
    if st["AMRunningMode"] != "normal" and third:
        return make_result(CHECK_PROTECTION, "third_party", "ok",
                           M_("real-time protection by %(products)s (SecurityCenter2 reports it on)",
                              products=", ".join(p["name"] for p in third)),
                           {"products": [p["name"] for p in third], "defender_mode": st["AMRunningMode"]})
    if st["AMRunningMode"] in _PASSIVE_MODES:
        observed = {"defender_mode": st["AMRunningMode"], "securitycenter": third is not None}
        if third is None:
            return make_result(CHECK_PROTECTION, "defender", "unknown",
                               M_("Microsoft Defender in %(mode)s mode and SecurityCenter2 not available: the "
                                  "active product's real-time protection cannot be read", mode=st["AMRunningMode"]),
                               observed, {}, M_("Check the third-party antivirus' console for this host."))
        return make_result(CHECK_PROTECTION, "defender", "critical",
                           M_("no real-time protection: Microsoft Defender in %(mode)s mode and no other product "
                              "enabled", mode=st["AMRunningMode"]), observed, {},
                           M_("Re-enable the third-party antivirus, or return Defender to normal mode."))
    observed = {key: st[key] for key in ("RealTimeProtectionEnabled", "OnAccessProtectionEnabled",
                                         "IoavProtectionEnabled", "BehaviorMonitorEnabled", "AMRunningMode")}
    rtp = st["RealTimeProtectionEnabled"]
    if rtp is None:
        return make_result(CHECK_PROTECTION, "defender", "unknown", M_("real-time protection state not read"),
                           observed, {}, _RUN_STATUS)
    if not rtp:
        return make_result(CHECK_PROTECTION, "defender", "critical", M_("real-time protection is off"), observed,
                           {"RealTimeProtectionEnabled": True},
                           M_("Turn real-time protection back on (Set-MpPreference -DisableRealtimeMonitoring "
                              "$false) and find out who turned it off."))
    off = [key for key in ("OnAccessProtectionEnabled", "IoavProtectionEnabled", "BehaviorMonitorEnabled")
           if st[key] is False]
    if off:
        return make_result(CHECK_PROTECTION, "defender", "warning",
                           M_("real-time protection on, but off: %(components)s", components=", ".join(off)),
                           observed, {"RealTimeProtectionEnabled": True},
                           M_("Re-enable the components listed (Set-MpPreference)."))
    return make_result(CHECK_PROTECTION, "defender", "ok", M_("real-time protection on"), observed,
                       {"RealTimeProtectionEnabled": True})


def _fmt_age(age):
    """An age in days as a one-part list of messages (a parameter of the summary)."""
    if age is None:
        return [M_("n/a")]
    if age == float("inf"):
        return [M_("never")]
    return [M_("%(days)s day", days=age) if age == 1 else M_("%(days)s days", days=age)]


def _defender_signatures(st, third, policy):
    threshold = age_threshold(policy, "signature")
    if st["AMRunningMode"] != "normal" and third:
        stale = [p["name"] for p in third if not p["up_to_date"]]
        observed = {"products": [{"name": p["name"], "up_to_date": p["up_to_date"]} for p in third]}
        if stale:
            return make_result(CHECK_SIGNATURES, "third_party", "warning",
                               M_("SecurityCenter2 reports out-of-date signatures for %(products)s",
                                  products=", ".join(stale)),
                               observed, threshold, M_("Update the antivirus product's signatures."))
        return make_result(CHECK_SIGNATURES, "third_party", "ok",
                           M_("SecurityCenter2 reports up-to-date signatures for %(products)s (age in days not "
                              "exposed)", products=", ".join(p["name"] for p in third)), observed, threshold)
    age = st["AntivirusSignatureAge"]
    observed = {"age_days": "never" if age == float("inf") else age,
                "AntivirusSignatureVersion": st["AntivirusSignatureVersion"],
                "AntivirusSignatureLastUpdated": iso_utc(st["AntivirusSignatureLastUpdated"]),
                "DefenderSignaturesOutOfDate": st["DefenderSignaturesOutOfDate"]}
    status = grade_age(age, policy, "signature")
    if status == "unknown":
        return make_result(CHECK_SIGNATURES, "defender", "unknown", M_("signature age not read"), observed,
                           threshold, _RUN_STATUS)
    out_of_date = bool(st["DefenderSignaturesOutOfDate"])
    if out_of_date:
        status = worst([status, "warning"])
    if age == float("inf"):
        summary = (M_("signatures never updated; Defender reports its signatures out of date") if out_of_date
                   else M_("signatures never updated"))
    else:
        template = (N_("signatures %(age)s old (version %(version)s); Defender reports its signatures out of date")
                    if out_of_date else N_("signatures %(age)s old (version %(version)s)"))
        summary = Msg(template, {"age": _fmt_age(age), "version": str(st["AntivirusSignatureVersion"])})
    return make_result(CHECK_SIGNATURES, "defender", status, summary, observed, threshold,
                       "" if status == "ok" else
                       M_("Run Update-MpSignature and check the update source (WSUS, MMPC, UNC share)."))


def _defender_scan(st, third, policy):
    threshold = age_threshold(policy, "scan")
    if st["AMRunningMode"] != "normal" and third:
        return make_result(CHECK_SCAN, "third_party", "skipped",
                           M_("scan history of %(products)s is not exposed to Windows; Defender is passive",
                              products=", ".join(p["name"] for p in third)), {}, threshold)
    if st["AMRunningMode"] in _PASSIVE_MODES and third is None:
        return make_result(CHECK_SCAN, "defender", "unknown",
                           M_("Microsoft Defender in %(mode)s mode does not scan, and the active product is not "
                              "readable (no SecurityCenter2)", mode=st["AMRunningMode"]), {}, threshold,
                           M_("Check the third-party antivirus' scan schedule for this host."))
    quick, full = st["QuickScanAge"], st["FullScanAge"]
    observed = {"QuickScanAge": "never" if quick == float("inf") else quick,
                "FullScanAge": "never" if full == float("inf") else full,
                "QuickScanEndTime": iso_utc(st["QuickScanEndTime"]), "FullScanEndTime": iso_utc(st["FullScanEndTime"])}
    known = [age for age in (quick, full) if age is not None]
    if not known:
        # A missing scan age means "never" (Defender leaves it empty before the first scan).
        known = [float("inf")]
        observed["note"] = "no scan age in the input: read as never scanned"
    age = min(known)
    status = grade_age(age, policy, "scan")
    summary = M_("never scanned (no quick or full scan recorded)") if age == float("inf") else \
        M_("last scan %(age)s ago (quick %(quick)s, full %(full)s)", age=_fmt_age(age), quick=_fmt_age(quick),
           full=_fmt_age(full))
    return make_result(CHECK_SCAN, "defender", status, summary, observed, threshold,
                       "" if status == "ok" else
                       M_("Start a quick scan (Start-MpScan -ScanType QuickScan) and check the scheduled scan."))


def _defender_tamper(st, third, policy):
    if st["AMRunningMode"] in _PASSIVE_MODES or (st["AMRunningMode"] != "normal" and third):
        return make_result(CHECK_TAMPER, "defender", "skipped",
                           M_("Defender is passive; tamper protection belongs to the active product"))
    value = st["IsTamperProtected"]
    threshold = {"IsTamperProtected": True, "off_status": policy["tamper_protection_off_status"]}
    if value is None:
        return make_result(CHECK_TAMPER, "defender", "unknown",
                           M_("tamper protection state not reported (IsTamperProtected missing)"), {}, threshold,
                           M_("Update the Defender platform (KB4052623) so that it reports tamper protection."))
    if value:
        return make_result(CHECK_TAMPER, "defender", "ok", M_("tamper protection on"), {"IsTamperProtected": True},
                           threshold)
    status = policy["tamper_protection_off_status"]
    return make_result(CHECK_TAMPER, "defender", status, M_("tamper protection off"), {"IsTamperProtected": False},
                       threshold, remediation(CHECK_TAMPER))


def _threat_names(active_threats):
    names = {}
    for threat in active_threats or []:
        if isinstance(threat, dict) and threat.get("ThreatID") is not None:
            names[str(threat.get("ThreatID"))] = threat.get("ThreatName")
    return names


def _classify_threats(detections, active):
    """Split detections into unremediated, remediated and allowed lists."""
    names = _threat_names(active)
    unremediated, remediated, allowed = [], [], []
    for det in detections or []:
        if not isinstance(det, dict):
            continue
        state = _threat_status(det.get("ThreatStatusID", det.get("ThreatStatus")))
        name = det.get("ThreatName") or names.get(str(det.get("ThreatID"))) or "threat %s" % det.get("ThreatID")
        entry = {"name": name, "status": state,
                 "detected": iso_utc(parse_ps_date(det.get("InitialDetectionTime"))),
                 "resources": (det.get("Resources") or [])[:3] if isinstance(det.get("Resources"), list)
                 else det.get("Resources"),
                 "action_success": _bool(det.get("ActionSuccess"))}
        if state in _THREAT_UNREMEDIATED or entry["action_success"] is False:
            unremediated.append(entry)
        elif state == "allowed":
            allowed.append(entry)
        else:
            remediated.append(entry)
    for threat in active or []:
        if isinstance(threat, dict) and _bool(threat.get("IsActive")):
            name = threat.get("ThreatName") or "threat %s" % threat.get("ThreatID")
            if not any(entry["name"] == name for entry in unremediated):
                unremediated.append({"name": name, "status": "active",
                                     "did_execute": _bool(threat.get("DidThreatExecute"))})
    return unremediated, remediated, allowed


def _defender_threats(facts, policy):
    detections = facts.get("threats")
    active = facts.get("active_threats")
    threshold = {"threat_days": policy["threat_days"], "remediated_status": policy["remediated_threat_status"]}
    if detections is None and active is None:
        return make_result(CHECK_THREATS, "defender", "unknown",
                           M_("threat detections not in the input (Get-MpThreatDetection not collected)"), {},
                           threshold, M_("Collect with the role, or add Get-MpThreatDetection to the saved output."))
    unremediated, remediated, allowed = _classify_threats(detections, active)
    observed = {"unremediated": unremediated[:10], "remediated": remediated[:10], "allowed": allowed[:10],
                "days": policy["threat_days"]}
    if unremediated:
        return make_result(CHECK_THREATS, "defender", "critical",
                           M_("%(count)s active or unremediated threat(s): %(threats)s", count=len(unremediated),
                              threats=", ".join(str(e["name"]) for e in unremediated[:3])),
                           observed, threshold,
                           M_("Investigate the host now: run a full scan, remove the threat, find the entry point."))
    if remediated or allowed:
        status = policy["remediated_threat_status"]
        parts = []
        if remediated:
            parts.append(M_("%(count)s remediated", count=len(remediated)))
        if allowed:
            parts.append(M_("%(count)s allowed by a user", count=len(allowed)))
            status = worst([status, "warning"])
        return make_result(CHECK_THREATS, "defender", status,
                           M_("threats in the last %(days)s days: %(counts)s (%(threats)s)", days=policy["threat_days"],
                              counts=parts, threats=", ".join(str(e["name"]) for e in (remediated + allowed)[:3])),
                           observed, threshold, M_("Review the detections and how the threat arrived."))
    return make_result(CHECK_THREATS, "defender", "ok",
                       M_("no threat detected in the last %(days)s days", days=policy["threat_days"]), observed,
                       threshold)


def _defender_updates(facts):
    results = []
    done = facts.get("remediation") or {}
    labels = {"signatures": [M_("signature update (Update-MpSignature)")],
              "quick_scan": [M_("quick scan (Start-MpScan)")]}
    for item in ("signatures", "quick_scan"):
        action = done.get(item)
        if not isinstance(action, dict) or not action.get("attempted"):
            if isinstance(action, dict) and action.get("skipped"):
                results.append(make_result(CHECK_UPDATE, item, "skipped",
                                           M_("%(action)s not run: %(reason)s", action=labels[item],
                                              reason=str(action["skipped"]))))
            continue
        observed = {key: action.get(key) for key in ("before", "after", "error", "duration_s", "started",
                                                     "completed", "job_state")
                    if action.get(key) is not None}
        if action.get("started") and not action.get("error"):
            # Started in the background (Start-MpScan -AsJob): not done, and not claimed as done.
            results.append(make_result(CHECK_UPDATE, item, "ok",
                                       Msg(N_("%(action)s completed (job %(job)s); the next run reads its result in "
                                              "the scan age") if action.get("completed") else
                                           N_("%(action)s started in the background (job %(job)s); the next run "
                                              "reads its result in the scan age"),
                                           {"action": labels[item], "job": str(action.get("job_state") or "?")}),
                                       observed, {}, "", changed=True))
            continue
        if action.get("error"):
            results.append(make_result(CHECK_UPDATE, item, "warning",
                                       M_("%(action)s failed: %(error)s", action=labels[item],
                                          error=str(action["error"])), observed, {},
                                       M_("Check the host's update source and run it by hand."),
                                       changed=bool(action.get("changed"))))
        else:
            results.append(make_result(CHECK_UPDATE, item, "ok",
                                       M_("%(action)s done", action=labels[item]) if action.get("changed")
                                       else M_("%(action)s done: nothing new", action=labels[item]),
                                       observed, {}, "", changed=bool(action.get("changed"))))
    return results


def evaluate_defender(facts, policy=None):
    """Turn collected Defender facts into antivirus results.

    Args:
        facts: ``{"computer_status": {...}, "threats": [...]|None, "active_threats": [...]|None,
            "products": [...]|None, "remediation": {...}}``; ``threats`` and ``products`` are
            ``None`` when they were not collected (SecurityCenter2 is absent on Windows Server).
        policy: the ``maint_policy.antivirus`` section.

    Returns:
        A list of results.
    """
    policy = effective_policy(policy)
    facts = facts if isinstance(facts, dict) else {"error": "the collected facts are not a mapping"}
    raw = facts.get("computer_status")
    if not isinstance(raw, dict) or not raw:
        error = facts.get("error") or "Get-MpComputerStatus returned nothing"
        results = [make_result(CHECK_PRODUCT, "defender", "unknown",
                               M_("Defender status not read: %(error)s", error=str(error)), {"error": error}, {},
                               M_("Run Get-MpComputerStatus on the host; check that the Defender module exists."))]
        products = facts.get("products")
        third = _third_party(products)
        if third:
            results[0] = make_result(CHECK_PRODUCT, "third_party", "ok",
                                     M_("active antivirus: %(products)s (Defender status not read: %(error)s)",
                                        products=", ".join(p["name"] for p in third), error=str(error)),
                                     {"securitycenter_products": _products_observed(products)})
        return results
    st = normalize_computer_status(raw)
    products = facts.get("products")
    third = _third_party(products)
    # Each check is decided on its own: odd data in one costs that check, never the others.
    results = [
        decide_one(CHECK_PRODUCT, "defender", _defender_product, st, products, third),
        decide_one(CHECK_PROTECTION, "defender", _defender_protection, st, third),
        decide_one(CHECK_SIGNATURES, "defender", _defender_signatures, st, third, policy),
        decide_one(CHECK_SCAN, "defender", _defender_scan, st, third, policy),
        decide_one(CHECK_TAMPER, "defender", _defender_tamper, st, third, policy),
        decide_one(CHECK_THREATS, "defender", _defender_threats, facts, policy),
    ]
    results.extend(guarded(CHECK_UPDATE, "", _defender_updates, facts))
    return results


def _decode_text(text):
    """Undo the encodings a saved PowerShell file arrives in (BOM, UTF-16 read as UTF-8)."""
    text = text or ""
    if "\x00" in text:
        # UTF-16LE (Windows PowerShell 5.1's `>` redirection) read as UTF-8 with replacement.
        text = text.replace("\x00", "")
    return text.lstrip("\ufeff\ufffd\ufffe\xff\xfe").strip()


def evaluate_defender_text(text, source="input"):
    """Evaluate one saved file for ``maintctl evaluate defender``.

    Accepts the collector's JSON and plain ``Get-MpComputerStatus | ConvertTo-Json`` output
    from Windows PowerShell 5.1 or PowerShell 7. Empty or unreadable input gives one
    ``unknown`` result whose summary says why.
    """
    body = _decode_text(text)
    if not body:
        return [make_result(CHECK_PRODUCT, "defender", "unknown", M_("%(source)s: empty input, nothing to evaluate",
                                                                     source=source),
                            {"source": source}, {},
                            _SAVE)]
    try:
        data = json.loads(body)
    except ValueError as exc:
        return [make_result(CHECK_PRODUCT, "defender", "unknown",
                            M_("%(source)s: not JSON (%(error)s at line %(line)s), nothing evaluated", source=source,
                               error=str(getattr(exc, "msg", exc)), line=getattr(exc, "lineno", "?")),
                            {"source": source}, {},
                            _SAVE)]
    facts, error = defender_facts_from_json(data)
    if facts is None:
        return [make_result(CHECK_PRODUCT, "defender", "unknown", M_("%(source)s: %(error)s", source=source,
                                                                     error=[error] if isinstance(error, Msg)
                                                                     else str(error)),
                            {"source": source}, {},
                            _SAVE)]
    return evaluate_defender(facts)
