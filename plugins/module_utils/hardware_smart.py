# -*- coding: utf-8 -*-
# Copyright: contributors to this project
# Apache-2.0
"""Turn ``smartctl --json --xall`` output into ``hardware.smart`` results (pure, no I/O).

The same code serves the ``hardware_linux`` module (one result per device a host
answered for, through ``hardware_decide.decide_smart``) and ``maintctl evaluate smart
FILE...`` (a customer's saved output, through ``hardware_decide.evaluate_smart_text``).
The caller hands in the catalogue entry (``hardware_decide.SMART``: the check id, its policy
keys and its remediation) and the thresholds merged with the catalogue's defaults
(``hardware_decide.effective_policy``): this file states no default of its own.

What is evaluated, per device:

* the overall verdict (``smart_status.passed``): failing is ``critical``;
* ATA attributes 5 (reallocated), 187 (reported uncorrectable), 188 (command
  timeout), 197 (pending) and 198 (offline uncorrectable), and any attribute whose
  ``when_failed`` is ``now`` (``critical``) or ``past`` (``warning``);
* NVMe ``critical_warning`` bits (``critical``), ``media_errors`` and ``percentage_used``;
* SCSI grown defects and uncorrected read/write/verify errors;
* the drive temperature;
* ``smartctl.exit_status`` bits, decoded (see ``EXIT_BITS``).

A device for which nothing about its health could be read gives ``unknown``, never
``ok``. Bad input (not JSON, not a smartctl output, truncated) gives one
``unknown`` result with a one-line reason; this code never raises on input data.
"""

from __future__ import annotations

import json

try:
    from ansible.module_utils.maint_result import (
        DATA_ERRORS,
        M_,
        N_,
        Msg,
        make_result,
        number,
        unreadable_result,
        worst,
    )
except ImportError:  # pragma: no cover - outside Ansible (maintctl, tests)
    from maint_utils.maint_result import DATA_ERRORS, M_, N_, Msg, make_result, number, unreadable_result, worst

# smartctl(8) "RETURN VALUES": bit -> (status, meaning).
EXIT_BITS = {
    0: ("unknown", N_("command line did not parse")),
    1: ("unknown", N_("device open failed or the device did not identify itself")),
    2: ("warning", N_("a SMART or other command to the disk failed, or a SMART data checksum was wrong")),
    3: ("critical", N_("SMART status check returned DISK FAILING")),
    4: ("critical", N_("prefail attributes are at or below their threshold")),
    5: ("warning", N_("some attributes were at or below their threshold in the past")),
    6: ("warning", N_("the device error log contains records of errors")),
    7: ("critical", N_("the device self-test log contains records of errors")),
}

# NVMe SMART/Health log byte 0, critical warning bits.
NVME_CRITICAL_BITS = {
    0: N_("available spare below threshold"),
    1: N_("temperature outside the allowed range"),
    2: N_("NVM subsystem reliability degraded"),
    3: N_("media placed in read-only mode"),
    4: N_("volatile memory backup device failed"),
    5: N_("persistent memory region read-only"),
}

# The finding of an ATA counter above zero, by its short name (ATA_ATTRS).
ATA_FINDING = {
    "reallocated_sectors": N_("%(count)s reallocated sectors (%(attr)s)"),
    "reported_uncorrectable": N_("%(count)s reported uncorrectable (%(attr)s)"),
    "pending_sectors": N_("%(count)s pending sectors (%(attr)s)"),
    "offline_uncorrectable": N_("%(count)s offline uncorrectable (%(attr)s)"),
}

# ATA attributes read by id: id -> (short name, policy key for critical or None).
ATA_ATTRS = {
    5: ("reallocated_sectors", "smart_reallocated_crit"),
    187: ("reported_uncorrectable", None),
    188: ("command_timeouts", None),
    197: ("pending_sectors", "smart_error_count_crit"),
    198: ("offline_uncorrectable", "smart_error_count_crit"),
}

_SEND = M_("Send the output of smartctl --json --xall DEVICE.")

_HEALTH_KEYS = ("smart_status", "ata_smart_attributes", "nvme_smart_health_information_log",
                "scsi_grown_defect_list", "scsi_error_counter_log")


class _Findings(object):
    """Collect (status, text) findings of one device."""

    def __init__(self):
        self.items = []

    def add(self, status, text):
        """Add a finding: ``text`` a ``Msg`` (a problem, said in the summary) or a plain note (ok)."""
        self.items.append((status, text))

    def status(self, default):
        return worst([s for s, _ in self.items], default=default)

    def texts(self, minimum="warning"):
        ranks = {"ok": 0, "unknown": 1, "warning": 2, "critical": 3}
        return [t for s, t in self.items if ranks.get(s, 0) >= ranks[minimum]]


def _int(value):
    """Return ``value`` as an int, or None when it is not a number (NaN, inf and strings included)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        value = number(value)
        return None if value is None else int(value)
    return None


def _counter(raw):
    """Read an ATA counter attribute's raw value.

    Some vendors pack three 16-bit counters into the 48-bit raw value (Seagate's
    188 Command_Timeout reads 8590065666 for "2 2 2"); a raw value that cannot be a
    plain count (over 32 bits) is read as the largest of its 16-bit words.
    """
    value = _int(raw.get("value")) if isinstance(raw, dict) else None
    if value is None or value < 0:
        return None
    if value > 0xFFFFFFFF:
        return max((value >> shift) & 0xFFFF for shift in (0, 16, 32))
    return value


def thresholds(check, thr):
    """Return the SMART thresholds of ``thr`` (an effective hardware policy): the keys of ``check.policy``."""
    return dict((key, thr[key]) for key in check.policy)


def decode_exit_status(code):
    """Return ``[(bit, status, meaning)]`` for every bit set in ``code``."""
    code = _int(code) or 0
    return [(bit,) + EXIT_BITS[bit] for bit in sorted(EXIT_BITS) if code & (1 << bit)]


def _identity(data):
    device = data.get("device") if isinstance(data.get("device"), dict) else {}
    model = data.get("model_name") or data.get("scsi_model_name") or device.get("model") or ""
    item = device.get("info_name") or device.get("name") or ""
    return {
        "device": device.get("name") or "",
        "type": device.get("type") or "",
        "protocol": device.get("protocol") or "",
        "model": str(model).strip(),
        "serial": str(data.get("serial_number") or "").strip(),
    }, str(item)


def _check_ata(data, thr, found, observed):
    section = data.get("ata_smart_attributes")
    table = section.get("table") if isinstance(section, dict) else None
    if not isinstance(table, list):
        return
    counters = {}
    failing = []
    for attr in table:
        if not isinstance(attr, dict):
            continue
        attr_id = _int(attr.get("id"))
        name = attr.get("name") or "attribute %s" % attr_id
        when = attr.get("when_failed") or ""
        if when == "now":
            failing.append("%s %s" % (attr_id, name))
            found.add("critical", M_("attribute %(attr)s %(name)s is failing now (normalised %(value)s <= "
                                     "threshold %(thresh)s)", attr=attr_id, name=str(name), value=attr.get("value"),
                                     thresh=attr.get("thresh")))
        elif when == "past":
            failing.append("%s %s (past)" % (attr_id, name))
            found.add("warning", M_("attribute %(attr)s %(name)s failed in the past", attr=attr_id, name=str(name)))
        if attr_id in ATA_ATTRS:
            value = _counter(attr.get("raw"))
            if value is not None:
                counters[ATA_ATTRS[attr_id][0]] = value
    observed["ata"] = counters
    if failing:
        observed["failing_attributes"] = failing
    _grade_ata_counters(counters, thr, found)
    found.add("ok", "ATA attributes read")


def _grade_ata_counters(counters, thr, found):
    for attr_id, (key, crit_key) in sorted(ATA_ATTRS.items()):
        value = counters.get(key)
        if not value:
            continue
        if attr_id == 188:
            if value >= thr["smart_command_timeout_warn"]:
                found.add("warning", M_("%(count)s command timeouts (188)", count=value))
            continue
        crit = thr[crit_key] if crit_key else None
        status = "critical" if crit is not None and value >= crit else "warning"
        found.add(status, Msg(ATA_FINDING[key], {"count": value, "attr": attr_id}))


def _check_nvme(data, thr, found, observed):
    log = data.get("nvme_smart_health_information_log")
    if not isinstance(log, dict):
        return
    nvme = {}
    for key in ("critical_warning", "media_errors", "percentage_used", "available_spare",
                "available_spare_threshold", "num_err_log_entries", "unsafe_shutdowns"):
        value = _int(log.get(key))
        if value is not None:
            nvme[key] = value
    observed["nvme"] = nvme
    warning = nvme.get("critical_warning")
    if warning:
        bits = [Msg(text, {}) for bit, text in sorted(NVME_CRITICAL_BITS.items())
                if warning & (1 << bit)]
        found.add("critical", M_("NVMe critical warning %(code)s: %(bits)s", code="0x%02x" % warning,
                                 bits=bits or [M_("unknown bit")]))
    media = nvme.get("media_errors")
    if media:
        status = "critical" if media >= thr["smart_error_count_crit"] else "warning"
        found.add(status, M_("%(count)s NVMe media errors", count=media))
    used = nvme.get("percentage_used")
    if used is not None:
        if used >= thr["smart_wear_crit_pct"]:
            found.add("critical", M_("%(pct)s %% of rated endurance used", pct=used))
        elif used >= thr["smart_wear_warn_pct"]:
            found.add("warning", M_("%(pct)s %% of rated endurance used", pct=used))
    if warning is not None or media is not None:
        found.add("ok", "NVMe health log read")


def _check_scsi(data, thr, found, observed):
    grown = _int(data.get("scsi_grown_defect_list"))
    if grown is not None:
        observed["scsi_grown_defects"] = grown
        if grown:
            status = "critical" if grown >= thr["smart_reallocated_crit"] else "warning"
            found.add(status, M_("%(count)s grown defects", count=grown))
        else:
            found.add("ok", "no grown defect")
    counters = data.get("scsi_error_counter_log")
    if isinstance(counters, dict):
        uncorrected = {}
        for kind in ("read", "write", "verify"):
            entry = counters.get(kind)
            value = _int(entry.get("total_uncorrected_errors")) if isinstance(entry, dict) else None
            if value is not None:
                uncorrected[kind] = value
        observed["scsi_uncorrected_errors"] = uncorrected
        total = sum(uncorrected.values())
        if uncorrected and not total:
            found.add("ok", "no uncorrected SCSI error")
        if total:
            status = "critical" if total >= thr["smart_error_count_crit"] else "warning"
            found.add(status, M_("%(count)s uncorrected SCSI errors (%(kinds)s)", count=total,
                                 kinds=", ".join("%s %d" % kv for kv in sorted(uncorrected.items()) if kv[1])))


def _check_temperature(data, thr, found, observed, protocol):
    temp = data.get("temperature") if isinstance(data.get("temperature"), dict) else {}
    current = _int(temp.get("current"))
    if current is None:
        return
    observed["temperature_c"] = current
    if protocol == "NVMe":
        warn, crit = thr["nvme_temp_warn_c"], thr["nvme_temp_crit_c"]
    else:
        warn, crit = thr["disk_temp_warn_c"], thr["disk_temp_crit_c"]
    trip = _int(temp.get("drive_trip"))
    if trip:
        crit = min(crit, trip)
    observed["temperature_limits_c"] = {"warn": warn, "crit": crit}
    if current >= crit:
        found.add("critical", M_("temperature %(celsius)s C (limit %(limit)s C)", celsius=current, limit=crit))
    elif current >= warn:
        found.add("warning", M_("temperature %(celsius)s C (warning at %(limit)s C)", celsius=current, limit=warn))


def _messages(smartctl):
    out = []
    messages = smartctl.get("messages")
    for msg in messages if isinstance(messages, list) else []:
        if isinstance(msg, dict) and msg.get("string"):
            out.append(" ".join(str(msg["string"]).split()))
    return out[:5]


def _remediation(check, status):
    if status == "critical":
        return check.remediation
    if status == "warning":
        return M_("Watch this disk: compare the counters with the previous run, run a long self-test "
                  "(smartctl -t long) and plan a replacement if they grow.")
    if status == "unknown":
        return M_("Make the disk's SMART data readable (smartctl -d TYPE for RAID controllers or USB "
                  "bridges, run as root), or check the disk with the vendor's tool.")
    return ""


def _no_health_reason(data, bits, messages):
    """Say why an output holds no health data."""
    support = data.get("smart_support") if isinstance(data.get("smart_support"), dict) else {}
    if any(bit in (0, 1) for bit, _, _ in bits):
        if messages:
            return M_("smartctl could not read the device (%(messages)s)", messages="; ".join(messages))
        return M_("smartctl could not read the device (%(meaning)s)", meaning=[Msg(bits[0][2], {})])
    if support.get("available") is False:
        return M_("the device does not support SMART")
    if support.get("enabled") is False:
        return M_("SMART is disabled on the device (smartctl -s on)")
    if messages:
        return M_("%(messages)s", messages="; ".join(messages))
    return M_("no health data in the output")


def evaluate_device(check, data, thr, item=None):
    """Return one ``hardware.smart`` result for one device's parsed smartctl JSON.

    Args:
        check: the catalogue entry of the check (``hardware_decide.SMART``).
        data: the parsed output of ``smartctl --json --xall`` for one device.
        thr: the effective hardware policy (``hardware_decide.effective_policy``); the
            keys of ``check.policy`` are read.
        item: the result's item; by default the device's ``info_name``.

    Returns:
        A result dict from ``make_result``; ``unknown`` when no health value was read.
    """
    thr = thresholds(check, thr)
    try:
        return _evaluate_device(check, data, thr, item)
    except DATA_ERRORS as exc:  # a section of an unexpected shape: this disk is unknown, not the host
        fallback = item or ""
        if isinstance(data, dict) and isinstance(data.get("device"), dict):
            fallback = fallback or str(data["device"].get("info_name") or data["device"].get("name") or "")
        return unreadable_result(check.id, fallback, "smartctl JSON output", error=exc, observed={},
                                 remediation=_remediation(check, "unknown"))


def _evaluate_device(check, data, thr, item):
    if not isinstance(data, dict) or not isinstance(data.get("smartctl"), dict):
        return make_result(check.id, item or "", "unknown",
                           M_("not a smartctl JSON output: no 'smartctl' section"), remediation=_SEND)
    smartctl = data["smartctl"]
    ident, default_item = _identity(data)
    item = item or default_item
    code = _int(smartctl.get("exit_status"))
    bits = decode_exit_status(code)
    observed = dict((k, v) for k, v in ident.items() if v)
    observed["exit_status"] = code
    observed["exit_status_bits"] = ["bit %d: %s" % (bit, text) for bit, _, text in bits]
    messages = _messages(smartctl)
    if messages:
        observed["messages"] = messages
    name = " ".join(x for x in (ident["model"], ident["serial"]) if x) or item or "device"

    if not any(key in data for key in _HEALTH_KEYS):
        return make_result(check.id, item, "unknown",
                           M_("%(disk)s: SMART not read: %(reason)s", disk=name,
                              reason=[_no_health_reason(data, bits, messages)]),
                           observed=observed, threshold=thr, remediation=_remediation(check, "unknown"))

    found = _Findings()
    status_section = data.get("smart_status")
    if isinstance(status_section, dict) and isinstance(status_section.get("passed"), bool):
        observed["smart_passed"] = status_section["passed"]
        if status_section["passed"]:
            found.add("ok", "overall PASSED")
        else:
            found.add("critical", M_("overall health FAILED"))
    _check_ata(data, thr, found, observed)
    _check_nvme(data, thr, found, observed)
    _check_scsi(data, thr, found, observed)
    _check_temperature(data, thr, found, observed, ident["protocol"])
    for bit, status, text in bits:
        if bit in (0, 1):
            continue  # reading failed; health data present is judged on its own
        found.add(status, M_("smartctl exit status bit %(bit)s: %(meaning)s", bit=bit, meaning=[Msg(text, {})]))
    power_on = data.get("power_on_time")
    if isinstance(power_on, dict) and _int(power_on.get("hours")) is not None:
        observed["power_on_hours"] = _int(power_on["hours"])

    status = found.status(default="unknown")
    problems = found.texts()
    if status == "ok":
        summary = M_("%(disk)s: SMART PASSED, no problem found", disk=name)
    elif status == "unknown":
        summary = M_("%(disk)s: SMART health not read", disk=name)
    else:
        summary = M_("%(disk)s: %(problems)s", disk=name, problems=problems)
    return make_result(check.id, item, status, summary, observed=observed, threshold=thr,
                       remediation=_remediation(check, status))


def evaluate_text(check, text, thr, source="input"):
    """Evaluate saved smartctl output (``maintctl evaluate smart``, through ``hardware_decide.evaluate_smart_text``).

    Args:
        check: the catalogue entry of the check (``hardware_decide.SMART``).
        text: the file's content: one ``smartctl --json --xall`` object, or a JSON
            list of such objects.
        thr: the effective hardware policy (``hardware_decide.effective_policy``).
        source: where the text came from (a file name), used in messages.

    Returns:
        One result per device; one ``unknown`` result when the text is not usable.
    """
    stripped = (text or "").strip()
    if not stripped:
        return [make_result(check.id, source, "unknown", M_("%(source)s: empty input, no smartctl output",
                                                            source=source), remediation=_SEND)]
    try:
        data = json.loads(stripped)
    except ValueError as exc:
        template = N_("%(source)s: not valid JSON: %(error)s")
        if "smartctl" in stripped[:400] and not stripped.startswith(("{", "[")):
            template = N_("%(source)s: not valid JSON (this looks like smartctl's text output: rerun it with "
                          "--json --xall): %(error)s")
        elif stripped.startswith(("{", "[")):
            template = N_("%(source)s: not valid JSON (truncated or damaged JSON): %(error)s")
        return [make_result(check.id, source, "unknown", Msg(template, {"source": source, "error": str(exc)}),
                            remediation=M_("Send the complete output of smartctl --json --xall DEVICE."))]
    documents = data if isinstance(data, list) else [data]
    results = []
    for index, document in enumerate(documents):
        label = source if len(documents) == 1 else "%s[%d]" % (source, index)
        if isinstance(document, dict) and isinstance(document.get("smartctl"), dict):
            if "devices" in document and not any(key in document for key in _HEALTH_KEYS + ("device",)):
                results.append(make_result(
                    check.id, label, "unknown",
                    M_("%(source)s: this is a device list (smartctl --scan), not a device's health output",
                       source=label),
                    remediation=M_("Run smartctl --json --xall on each device listed.")))
                continue
            result = evaluate_device(check, document, thr)
            result["item"] = result["item"] or label
            results.append(result)
        else:
            results.append(make_result(
                check.id, label, "unknown", M_("%(source)s: not a smartctl JSON output (no 'smartctl' section)",
                                               source=label), remediation=_SEND))
    if not results:
        results.append(make_result(check.id, source, "unknown", M_("%(source)s: empty JSON list, no device",
                                                                   source=source), remediation=_SEND))
    return results
