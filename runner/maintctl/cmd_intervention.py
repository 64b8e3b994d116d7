"""``maintctl intervention add|list|show|edit|delete``: the work people did, on record.

* ``add --client X --summary "..." [--host H] [--minutes 45] [--at TIME] [--alert ID] [--result ID]
  [--kind corrective|preventive|evolutive|curative] [--as NAME]``: record an intervention, linked
  to the alert it answered or the result it acted on (both must be the client's);
* ``list`` (``--since``, ``--until``, ``--host``, ``--kind``, ``--all``, ``--format table|json``),
  ``show ID``;
* ``edit ID [--summary] [--minutes] [--kind] [--at] [--host]``: who edited, when, and the old values
  are kept;
* ``delete ID --reason "..."``: marked deleted (who, when, why), hidden unless ``--all``.

Times take the forms of ``maintctl downtime add --from`` (``now``, ``+30m``, an ISO time, or
``YYYY-MM-DD HH:MM`` in the client's timezone). The monthly report lists the interventions of its
period (:func:`maintcore.interventions.for_period`).
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import json

from maint_utils import maint_clock, maint_window
from maintcore import interventions, inventory
from maintcore.errors import InvalidInput, clip
from maintcore.store import Store

from . import policy
from .cmd_supervise import parse_when

WHEN_HELP = "'now', '+30m', an ISO time, or 'YYYY-MM-DD HH:MM' in the client's timezone"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``intervention`` subcommand and its actions."""
    parser = sub.add_parser("intervention", help="record, list, edit or delete the work people did for a client")
    isub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

    add = isub.add_parser("add", help="record an intervention (work done), linked to an alert or a result")
    add.add_argument("--client", required=True)
    add.add_argument("--summary", required=True, help="what was done")
    add.add_argument("--host", help="one of the client's hosts (default: the host of --alert or --result)")
    add.add_argument("--minutes", type=int, help="time spent, in minutes")
    add.add_argument("--at", default="now", help=f"when it was done: {WHEN_HELP} (default: now)")
    add.add_argument("--alert", type=int, metavar="ID", help="the alert it answered")
    add.add_argument("--result", type=int, metavar="ID", help="the result it acted on")
    add.add_argument("--kind", choices=interventions.KINDS, default=interventions.DEFAULT_KIND)
    add.add_argument("--as", dest="who", metavar="NAME", help="who did it (default: the OS user)")
    add.set_defaults(func=intervention_add)

    lst = isub.add_parser("list", help="the client's interventions, newest first")
    lst.add_argument("--client", required=True)
    lst.add_argument("--since", help=f"done at or after: {WHEN_HELP}")
    lst.add_argument("--until", help="done before, in the same forms")
    lst.add_argument("--host")
    lst.add_argument("--kind", choices=interventions.KINDS)
    lst.add_argument("--all", action="store_true", help="include deleted interventions")
    lst.add_argument("--format", choices=("table", "json"), default="table")
    lst.set_defaults(func=intervention_list)

    show = isub.add_parser("show", help="one intervention, with its edits")
    show.add_argument("--client", required=True)
    show.add_argument("intervention_id", type=int, metavar="ID")
    show.add_argument("--format", choices=("text", "json"), default="text")
    show.set_defaults(func=intervention_show)

    edit = isub.add_parser("edit", help="correct an intervention (who and when are recorded, old values kept)")
    edit.add_argument("--client", required=True)
    edit.add_argument("intervention_id", type=int, metavar="ID")
    edit.add_argument("--summary")
    edit.add_argument("--minutes", type=int)
    edit.add_argument("--kind", choices=interventions.KINDS)
    edit.add_argument("--at", help=WHEN_HELP)
    edit.add_argument("--host")
    edit.add_argument("--as", dest="who", metavar="NAME")
    edit.set_defaults(func=intervention_edit)

    delete = isub.add_parser("delete", help="delete an intervention (kept, marked deleted with who, when, why)")
    delete.add_argument("--client", required=True)
    delete.add_argument("intervention_id", type=int, metavar="ID")
    delete.add_argument("--reason", required=True)
    delete.add_argument("--as", dest="who", metavar="NAME")
    delete.set_defaults(func=intervention_delete)


def _who(args: argparse.Namespace) -> str:
    return clip(getattr(args, "who", None) or getpass.getuser(), 80)


def client_tz(client: str) -> dt.tzinfo:
    """Return the client's timezone (its policy's ``timezone``, UTC by default)."""
    zone: dt.tzinfo = maint_window.load_timezone(inventory.load_policy(client).get("timezone") or "UTC")
    return zone


def local(stamp: str | None, tz: dt.tzinfo) -> str:
    """Return an ISO UTC time in the client's timezone, for a person."""
    if not stamp:
        return "-"
    return f"{maint_clock.parse_iso(stamp).astimezone(tz):%Y-%m-%d %H:%M %Z}"


def when(text: str | None, tz: dt.tzinfo, option: str) -> str | None:
    """Parse one of the time forms of ``--from`` into ISO UTC (None stays None)."""
    if text is None:
        return None
    stamp: str = maint_clock.to_iso(parse_when(text, tz, maint_clock.now(), option))
    return stamp


def _check_host(client: str, host: str | None) -> None:
    if host is not None and host not in policy.list_hosts(client):
        raise InvalidInput(f"--host: {clip(host, 60)!r} is not a host of client {client}")


def intervention_add(args: argparse.Namespace) -> int:
    """Record an intervention."""
    inventory.client_dir(args.client)
    tz = client_tz(args.client)
    at = when(args.at, tz, "--at")
    _check_host(args.client, args.host)
    with Store() as store:
        new = interventions.add(store, args.client, args.summary, _who(args), host=args.host,
                                minutes=args.minutes, at=at, kind=args.kind, alert_id=args.alert,
                                result_id=args.result)
        rec = interventions.get(store, args.client, new)
    print(f"intervention {new}: {rec['kind']} {args.client} {rec['host'] or '(all hosts)'} "
          f"at {local(rec['at'], tz)} by {rec['who']}")
    return 0


def intervention_list(args: argparse.Namespace) -> int:
    """Print the client's interventions as a table or JSON."""
    inventory.client_dir(args.client)
    tz = client_tz(args.client)
    since, until = when(args.since, tz, "--since"), when(args.until, tz, "--until")
    with Store() as store:
        rows = interventions.list_interventions(store, args.client, since, until, args.host, args.kind,
                                                deleted=args.all)
    if args.format == "json":
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return 0
    if not rows:
        print(f"no intervention for client {args.client}")
        return 0
    print(f"{'ID':>5} {'AT':<22} {'KIND':<11} {'HOST':<12} {'MIN':>5} {'WHO':<12} {'LINK':<12} SUMMARY")
    for row in rows:
        link = (f"alert {row['alert_id']}" if row["alert_id"] else
                f"result {row['result_id']}" if row["result_id"] else "-")
        gone = f" (deleted by {row['deleted_by']}: {row['deleted_reason']})" if row["deleted"] else ""
        minutes = "-" if row["minutes"] is None else str(row["minutes"])
        print(f"{row['id']:>5} {local(row['at'], tz):<22} {row['kind']:<11} {clip(row['host'] or '*', 12):<12} "
              f"{minutes:>5} {clip(row['who'], 12):<12} {link:<12} {clip(row['summary'], 80)}{gone}")
    return 0


def intervention_show(args: argparse.Namespace) -> int:
    """Print one intervention with its edits."""
    inventory.client_dir(args.client)
    tz = client_tz(args.client)
    with Store() as store:
        rec = interventions.get(store, args.client, args.intervention_id)
    if args.format == "json":
        print(json.dumps(rec, indent=2, ensure_ascii=False))
        return 0
    print(f"intervention {rec['id']}: {rec['kind']} {rec['host'] or '(all hosts)'}")
    print(f"  summary: {rec['summary']}")
    print(f"  done: {local(rec['at'], tz)} by {rec['who']}"
          + (f", {rec['minutes']} min" if rec["minutes"] is not None else ""))
    if rec["alert_id"]:
        print(f"  answers alert {rec['alert_id']}")
    if rec["result_id"]:
        print(f"  acts on result {rec['result_id']}")
    print(f"  recorded: {local(rec['created'], tz)}")
    if rec["deleted"]:
        print(f"  deleted: {local(rec['deleted'], tz)} by {rec['deleted_by']}: {rec['deleted_reason']}")
    for change in rec["edits"]:
        print(f"  edited {local(change['at'], tz)} by {change['who']}: {change['field']} "
              f"{clip(change['old_value'] or '-', 60)!s} -> {clip(change['new_value'] or '-', 60)!s}")
    return 0


def intervention_edit(args: argparse.Namespace) -> int:
    """Correct an intervention."""
    inventory.client_dir(args.client)
    tz = client_tz(args.client)
    at = when(args.at, tz, "--at")
    _check_host(args.client, args.host)
    with Store() as store:
        changed = interventions.edit(store, args.client, args.intervention_id, _who(args), summary=args.summary,
                                     minutes=args.minutes, kind=args.kind, at=at, host=args.host)
    print(f"intervention {args.intervention_id}: " + (f"{', '.join(changed)} edited by {_who(args)}"
                                                     if changed else "nothing changed"))
    return 0


def intervention_delete(args: argparse.Namespace) -> int:
    """Delete an intervention (soft)."""
    inventory.client_dir(args.client)
    with Store() as store:
        interventions.delete(store, args.client, args.intervention_id, _who(args), args.reason)
    print(f"intervention {args.intervention_id} deleted by {_who(args)}")
    return 0
