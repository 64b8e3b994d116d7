# -*- coding: utf-8 -*-
# Copyright: contributors to this project
# Apache-2.0
"""Patch decisions for Windows Update: ansible.windows.win_updates arguments and return values.

Pure Python, no I/O. The ``patch_win`` module runs this on the controller (Windows hosts run
no Python); the pre-check, the reboot decision and the post-check are ``patch_decide``'s.
"""

from __future__ import annotations

try:
    from ansible.module_utils.maint_result import M_, make_result, number
    from ansible.module_utils.patch_decide import FAILED, INSTALLED, PENDING, PENDING_SECURITY, REBOOT_REQUIRED
except ImportError:  # pragma: no cover - used outside Ansible (maintctl, tests)
    from maint_utils.maint_result import M_, make_result, number
    from maint_utils.patch_decide import FAILED, INSTALLED, PENDING, PENDING_SECURITY, REBOOT_REQUIRED


def windows_update_args(policy):
    """Return the win_updates arguments that carry the policy (categories, reject/accept lists).

    KB numbers and title regexes both go to ``reject_list`` (win_updates matches each entry
    against the KB ids and the title). In security mode only the categories listed apply.
    """
    reject = ["KB%s" % str(k).upper().lstrip("KB") for k in policy["exclude_kbs"]] + list(policy["exclude_titles"])
    categories = list(policy["categories"])
    if policy["mode"] == "security":
        categories = [c for c in categories if c in ("SecurityUpdates", "CriticalUpdates")] or ["SecurityUpdates"]
    args = {"category_names": categories}
    if reject:
        args["reject_list"] = reject
    if policy["accept"]:
        args["accept_list"] = list(policy["accept"])
    return args


def _win_updates(ret, key="updates"):
    """The updates of a win_updates return, each a dict with list ``kb``/``categories`` (odd entries dropped)."""
    value = (ret or {}).get(key) or {}
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else []
    out = []
    for update in items:
        if not isinstance(update, dict):
            continue
        update = dict(update, title=str(update.get("title") or ""), id=str(update.get("id") or ""))
        for listed in ("kb", "categories"):
            raw = update.get(listed)
            update[listed] = [str(x) for x in raw] if isinstance(raw, list) else [str(raw)] if raw else []
        out.append(update)
    return sorted(out, key=lambda u: (u["title"], u["id"]))


def windows_scan_results(ret, policy):
    """Turn a ``win_updates state=searched`` return into patch.pending, pending_security, reboot_required."""
    if not isinstance(ret, dict) or ret.get("failed") or "found_update_count" not in ret:
        msg = (ret if isinstance(ret, dict) else {}).get("msg") or "win_updates returned no search result"
        return [make_result(check, "", "unknown", M_("Windows Update search failed: %(error)s", error=str(msg)),
                            observed={"error": msg}, remediation=M_("Check the Windows Update service on the host."))
                for check in (PENDING, PENDING_SECURITY)]
    found = _win_updates(ret)
    filtered = _win_updates(ret, "filtered_updates")
    listing = [{"id": u.get("id"), "title": u.get("title"), "kb": u.get("kb") or [],
                "categories": u.get("categories") or []} for u in found]
    sec = [u for u in found if any("Security" in c or "Critical" in c for c in u.get("categories") or [])]
    reboot = ret.get("reboot_required")
    results = [
        make_result(PENDING, "", "warning" if found and policy["mode"] == "all" else "ok",
                    M_("%(count)s pending update(s), %(filtered)s filtered by policy", count=len(found),
                       filtered=len(filtered)),
                    observed={"count": len(found), "updates": listing,
                              "filtered": [{"title": u.get("title"), "reasons": u.get("filtered_reasons") or
                                            [u.get("filtered_reason")]} for u in filtered],
                              "manager": "windows_update"},
                    threshold={"mode": policy["mode"], "categories": policy["categories"]}),
        make_result(PENDING_SECURITY, "", "warning" if sec else "ok",
                    M_("%(count)s pending security or critical update(s)", count=len(sec)),
                    observed={"count": len(sec), "kbs": sorted({k for u in sec for k in u.get("kb") or []}),
                              "oldest_age_days": None},
                    remediation=M_("Install them in the next maintenance window.") if sec else ""),
        make_result(REBOOT_REQUIRED, "", "unknown" if reboot is None else "warning" if reboot else "ok",
                    M_("reboot required") if reboot else M_("no reboot required") if reboot is not None
                    else M_("reboot state not returned"),
                    observed={"reboot_required": reboot}),
    ]
    return results


def windows_install_results(ret):
    """Turn a ``win_updates state=installed`` return into patch.installed and patch.failed."""
    if not isinstance(ret, dict) or "installed_update_count" not in ret:
        msg = (ret if isinstance(ret, dict) else {}).get("msg") or "win_updates returned no install result"
        return [make_result(FAILED, "", "critical", M_("Windows Update install failed: %(error)s", error=str(msg)),
                            observed={"error": msg},
                            remediation=M_("Read the host's WindowsUpdate log and run again."))]
    updates = _win_updates(ret)
    done = [u for u in updates if u.get("installed")]
    failed = [u for u in updates if not u.get("installed") and (u.get("failure_hresult_code") or u.get("failure_msg"))]
    results = [make_result(
        INSTALLED, "", "ok",
        M_("installed %(count)s update(s): %(updates)s", count=len(done), updates=", ".join(
            ("KB" + u["kb"][0]) if u.get("kb") else u.get("title", "?") for u in done)) if done
        else M_("installed %(count)s update(s)", count=0),
        observed={"count": len(done), "updates": [{"id": u.get("id"), "title": u.get("title"),
                                                   "kb": u.get("kb") or []} for u in done]},
        changed=bool(done),
    )]
    count = int(number(ret.get("failed_update_count")) or 0) or len(failed)
    if count or failed:
        results.append(make_result(
            FAILED, "", "critical", M_("%(count)s update(s) failed: %(updates)s", count=count, updates="; ".join(
                "%s (%s)" % (u.get("title"), u.get("failure_msg") or u.get("failure_hresult_code")) for u in failed)),
            observed={"count": count, "updates": [{"id": u.get("id"), "title": u.get("title"),
                                                   "hresult": u.get("failure_hresult_code"),
                                                   "message": u.get("failure_msg")} for u in failed]},
            remediation=M_("Read the host's WindowsUpdate log, fix the cause, then run again.")))
    else:
        results.append(make_result(FAILED, "", "ok", M_("no update failed"), observed={"count": 0}))
    results.append(make_result(
        REBOOT_REQUIRED, "", "warning" if ret.get("reboot_required") else "ok",
        M_("reboot required") if ret.get("reboot_required") else M_("no reboot required"),
        observed={"reboot_required": bool(ret.get("reboot_required"))}))
    return results

