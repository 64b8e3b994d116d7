"""``maintctl probe|watch|alerts|downtime``: supervision between windows, for a technician.

* ``probe --client X`` / ``watch --client X``: one cycle now (``tick`` runs them on schedule).
* ``alerts list|show|ack|resolve|note --client X``: the alerts' lifecycle, open → acknowledged
  (who, when, note) → resolved, with response and resolution times against the client's SLA.
* ``downtime add|list|delete --client X``: scheduled downtime, which silences notifications and
  is excluded from unavailability.
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import json
import re
from zoneinfo import ZoneInfo

from maint_utils import maint_clock, maint_window
from maintcore import inventory, supervision
from maintcore.errors import InvalidInput, clip
from maintcore.store import Store

from . import policy, supervise
from .orchestrator import EXIT_FINDINGS, EXIT_OK

STATE_CHOICES = ("open", "acknowledged", "resolved", "active", "all")
_RELATIVE_RE = re.compile(r"^\+(\d{1,5})\s*(m|min|h|d)$")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``probe``, ``watch``, ``alerts`` and ``downtime`` subcommands."""
    probe = sub.add_parser("probe", help="run one availability probe cycle of a client now")
    probe.add_argument("--client", required=True)
    probe.set_defaults(func=run_probe)

    watch = sub.add_parser("watch", help="run one health watch of a client now (one module call per host)")
    watch.add_argument("--client", required=True)
    watch.add_argument("--limit", metavar="PATTERN", help="only these hosts (an Ansible host pattern)")
    watch.set_defaults(func=run_watch)

    alerts = sub.add_parser("alerts", help="list, show, acknowledge, resolve or annotate a client's alerts")
    asub = alerts.add_subparsers(dest="action", required=True, metavar="ACTION")
    lst = asub.add_parser("list", help="the client's alerts, newest first (default: open and acknowledged)")
    lst.add_argument("--client", required=True)
    lst.add_argument("--state", default="active", choices=STATE_CHOICES)
    lst.add_argument("--severity", choices=("P1", "P2", "P3", "P4"))
    lst.add_argument("--host")
    lst.add_argument("--format", choices=("table", "json"), default="table")
    lst.set_defaults(func=alerts_list)
    show = asub.add_parser("show", help="one alert: its history, the results that caused it, its notifications")
    show.add_argument("--client", required=True)
    show.add_argument("alert_id", type=int, metavar="ID")
    show.add_argument("--format", choices=("text", "json"), default="text")
    show.set_defaults(func=alerts_show)
    for name, helptext, func in (("ack", "acknowledge an open alert (you take it in charge)", alerts_ack),
                                 ("resolve", "resolve an alert by hand (--note says how)", alerts_resolve),
                                 ("note", "add a note to an alert's history", alerts_note)):
        action = asub.add_parser(name, help=helptext)
        action.add_argument("--client", required=True)
        action.add_argument("alert_id", type=int, metavar="ID")
        action.add_argument("--note", required=name != "ack", default=None)
        action.add_argument("--as", dest="who", metavar="NAME", help="who did it (default: the OS user)")
        action.set_defaults(func=func)

    down = sub.add_parser("downtime", help="scheduled downtime: no notification, excluded from unavailability")
    dsub = down.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = dsub.add_parser("add", help="plan a downtime for a host (or --host '*' for every host)")
    add.add_argument("--client", required=True)
    add.add_argument("--host", required=True, help="an inventory host, or '*' for all of the client's hosts")
    add.add_argument("--from", dest="start", default="now",
                     help="start: 'now', '+30m', '+2h', ISO time, or 'YYYY-MM-DD HH:MM' in the client's timezone")
    add.add_argument("--to", dest="end", required=True, help="end, in the same forms")
    add.add_argument("--reason", required=True)
    add.add_argument("--as", dest="who", metavar="NAME")
    add.set_defaults(func=downtime_add)
    dl = dsub.add_parser("list", help="the client's downtimes")
    dl.add_argument("--client", required=True)
    dl.add_argument("--all", action="store_true", help="include past and cancelled ones")
    dl.set_defaults(func=downtime_list)
    dd = dsub.add_parser("delete", help="cancel a downtime (kept in the history as cancelled)")
    dd.add_argument("--client", required=True)
    dd.add_argument("downtime_id", type=int, metavar="ID")
    dd.add_argument("--as", dest="who", metavar="NAME")
    dd.set_defaults(func=downtime_delete)


def _who(args: argparse.Namespace) -> str:
    name = getattr(args, "who", None) or getpass.getuser()
    return clip(name, 80)


def _tz(client: str) -> dt.tzinfo:
    pol = inventory.load_policy(client)
    zone: dt.tzinfo = maint_window.load_timezone(pol.get("timezone") or "UTC")
    return zone


def _local(stamp: str | None, tz: dt.tzinfo) -> str:
    if not stamp:
        return "-"
    return f"{maint_clock.parse_iso(stamp).astimezone(tz):%Y-%m-%d %H:%M %Z}"


# -- probe / watch -----------------------------------------------------------------------------
def run_probe(args: argparse.Namespace) -> int:
    """One probe cycle; exit 0 when every probe is ok, 1 otherwise."""
    inventory.client_dir(args.client)
    with Store() as store:
        code, results, outcome = supervise.probe_cycle(args.client, store)
    bad = [r for r in results if r["status"] != "ok"]
    print(f"probe {args.client}: {len(results)} probes, {len(results) - len(bad)} ok, {len(bad)} not ok; "
          f"{outcome.line()}")
    for res in bad:
        print(f"  {res['host']} {res['check']} {res['item']}: {res['status']}: {res['summary']}")
    return code


def run_watch(args: argparse.Namespace) -> int:
    """One health watch; exit as a run does."""
    inventory.client_dir(args.client)
    with Store() as store:
        code, results = supervise.watch_cycle(args.client, store, args.limit)
    bad = [r for r in results if r["status"] not in ("ok", "skipped")]
    print(f"watch {args.client}: {len(results)} results, {len(bad)} not ok")
    for res in bad:
        print(f"  {res['host']} {res['check']} {res['item']}: {res['status']}: {res['summary']}")
    return code if code in (EXIT_OK, EXIT_FINDINGS) else code


# -- alerts --------------------------------------------------------------------------------------
def _states(choice: str) -> tuple[str, ...]:
    return {"active": supervision.ACTIVE, "all": supervision.STATES}.get(choice, (choice,))


def alerts_list(args: argparse.Namespace) -> int:
    """Print the client's alerts as a table or JSON."""
    inventory.client_dir(args.client)
    pol = inventory.load_policy(args.client)
    tz = _tz(args.client)
    now = maint_clock.to_iso(maint_clock.now())
    with Store() as store:
        rows = supervision.list_alerts(store, args.client, _states(args.state), args.severity, args.host)
    for row in rows:
        row.update(supervision.sla_view(row, pol, now))
    if args.format == "json":
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return 0
    if not rows:
        print(f"no {args.state} alert for client {args.client}")
        return 0
    print(f"{'ID':>5} {'STATE':<12} {'SEV':<3} {'STATUS':<8} {'HOST':<12} {'CHECK':<24} {'OPENED':<22} SUMMARY")
    for row in rows:
        check = row["check_id"] + (f" [{row['item']}]" if row["item"] else "")
        flag = " (in downtime)" if row["suppressed"] else ""
        print(f"{row['id']:>5} {row['state']:<12} {row['severity'] or '-':<3} {row['status']:<8} {row['host']:<12} "
              f"{clip(check, 24):<24} {_local(row['opened'], tz):<22} {clip(row['summary'], 80)}{flag}")
    return 0


def alerts_show(args: argparse.Namespace) -> int:
    """Print one alert with its events, linked results and notifications."""
    inventory.client_dir(args.client)
    pol = inventory.load_policy(args.client)
    tz = _tz(args.client)
    with Store() as store:
        alert = supervision.get_alert(store, args.client, args.alert_id)
    alert.update(supervision.sla_view(alert, pol, maint_clock.to_iso(maint_clock.now())))
    if args.format == "json":
        print(json.dumps(alert, indent=2, ensure_ascii=False))
        return 0
    print(f"alert {alert['id']}: {alert['state']} {alert['severity'] or '-'} {alert['status']} "
          f"{alert['host']} {alert['check_id']}" + (f" [{alert['item']}]" if alert["item"] else ""))
    print(f"  summary: {alert['summary']}")
    print(f"  opened: {_local(alert['opened'], tz)} (result {alert['opened_result']})"
          + ("; in scheduled downtime: not notified" if alert["suppressed"] else ""))
    resp = alert["response_hours"]
    print(f"  acknowledged: {_local(alert['acknowledged'], tz)} by {alert['ack_by'] or '-'}"
          + (f"; response {resp:.2f} h (SLA {alert['response_limit_hours']} h)" if resp is not None else ""))
    res = alert["resolution_hours"]
    print(f"  resolved: {_local(alert['resolved'], tz)} by {alert['resolved_by'] or 'a good observation'}"
          f" (result {alert['resolved_result']})" if alert["resolved"] else "  resolved: -")
    if res is not None:
        print(f"  resolution {res:.2f} h (SLA {alert['resolution_limit_hours']} h)")
    print("  history:")
    for event in alert["events"]:
        extra = " ".join(x for x in (
            f"by {event['who']}" if event["who"] else "", f"result {event['result_id']}" if event["result_id"] else "",
            f"{event['status']}" if event["status"] else "", f"{event['severity']}" if event["severity"] else "",
            f"- {event['note']}" if event["note"] else "") if x)
        print(f"    {_local(event['at'], tz)} {event['kind']} {extra}")
    if alert["notifications"]:
        print("  notifications:")
        for note in alert["notifications"]:
            print(f"    {note['event']} {note['channel']} {note['target']}: {note['state']}"
                  f" after {note['attempts']} attempt(s)" + (f" ({note['last_error']})" if note["last_error"] else ""))
    return 0


def alerts_ack(args: argparse.Namespace) -> int:
    """Acknowledge an open alert."""
    inventory.client_dir(args.client)
    with Store() as store:
        supervision.acknowledge(store, args.client, args.alert_id, _who(args), args.note)
    print(f"alert {args.alert_id} acknowledged by {_who(args)}")
    return 0


def alerts_resolve(args: argparse.Namespace) -> int:
    """Resolve an alert by hand."""
    inventory.client_dir(args.client)
    with Store() as store:
        supervision.resolve(store, args.client, args.alert_id, _who(args), args.note)
    print(f"alert {args.alert_id} resolved by {_who(args)}")
    return 0


def alerts_note(args: argparse.Namespace) -> int:
    """Add a note to an alert."""
    inventory.client_dir(args.client)
    with Store() as store:
        supervision.add_note(store, args.client, args.alert_id, _who(args), args.note)
    print(f"note added to alert {args.alert_id}")
    return 0


# -- downtime ----------------------------------------------------------------------------------------
def parse_when(text: str, tz: dt.tzinfo, now: dt.datetime, where: str) -> dt.datetime:
    """Parse 'now', '+30m', '+2h', '+1d', an ISO time with offset, or local 'YYYY-MM-DD HH:MM'."""
    value = text.strip()
    if value == "now":
        return now
    match = _RELATIVE_RE.match(value)
    if match:
        unit = {"m": 60, "min": 60, "h": 3600, "d": 86400}[match.group(2)]
        return now + dt.timedelta(seconds=int(match.group(1)) * unit)
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(f"{where}: {clip(value, 60)!r}: expected now, +30m, +2h, an ISO time or "
                           "'YYYY-MM-DD HH:MM' in the client's timezone") from None
    if parsed.tzinfo is None:
        if isinstance(tz, ZoneInfo):
            local: dt.datetime = maint_window.local_instant(parsed.date(), parsed.hour * 60 + parsed.minute, tz)
            return local
        parsed = parsed.replace(tzinfo=tz)
    return parsed


def downtime_add(args: argparse.Namespace) -> int:
    """Plan a downtime for one of the client's hosts, or all of them."""
    inventory.client_dir(args.client)
    tz = _tz(args.client)
    if args.host != "*" and args.host not in policy.list_hosts(args.client):
        raise InvalidInput(f"downtime add: --host {clip(args.host, 60)!r} is not a host of client {args.client}")
    now = maint_clock.now()
    start = parse_when(args.start, tz, now, "--from")
    end = parse_when(args.end, tz, now, "--to")
    with Store() as store:
        new = supervision.add_downtime(store, args.client, args.host, maint_clock.to_iso(start),
                                       maint_clock.to_iso(end), args.reason, _who(args))
    print(f"downtime {new}: {args.client} {args.host} from {_local(maint_clock.to_iso(start), tz)} "
          f"to {_local(maint_clock.to_iso(end), tz)}")
    return 0


def downtime_list(args: argparse.Namespace) -> int:
    """Print the client's current and future downtimes (all with --all)."""
    inventory.client_dir(args.client)
    tz = _tz(args.client)
    now = maint_clock.to_iso(maint_clock.now())
    with Store() as store:
        rows = supervision.downtimes(store, args.client, since=None if args.all else now, deleted=args.all)
    if not rows:
        print(f"no downtime for client {args.client}")
        return 0
    for row in rows:
        state = f" cancelled by {row['deleted_by']}" if row["deleted"] else ""
        print(f"{row['id']:>5} {row['host']:<12} {_local(row['start'], tz)} -> {_local(row['end'], tz)} "
              f"{row['source']:<7} {row['who'] or '-'}: {row['reason']}{state}")
    return 0


def downtime_delete(args: argparse.Namespace) -> int:
    """Cancel a downtime."""
    inventory.client_dir(args.client)
    with Store() as store:
        supervision.delete_downtime(store, args.client, args.downtime_id, _who(args))
    print(f"downtime {args.downtime_id} cancelled")
    return 0
