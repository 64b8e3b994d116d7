"""``maintctl report``: a client's report for a month or one run, or the fleet overview.

The work is done by the ``maintreport`` package (reports/maintreport); this module only
parses the command line, checks it and prints the paths written.

``maintctl report keygen`` creates the MSP's signing key and ``maintctl report verify FILE``
checks a report against its signature (:mod:`maintreport.sign`). They are optional actions of
the same subcommand, so every ``maintctl report --client ...`` keeps working as it did.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from maintcore import inventory
from maintcore.errors import InvalidInput, MaintError
from maintcore.store import Store

MAX_LINE = 300  # an error line on stderr, "maintctl: error: " included


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``report`` subcommand."""
    parser = sub.add_parser(
        "report", help="write a client's report (HTML, PDF, JSON, CSV, Markdown) or the fleet overview",
        description="Aggregate every run of a month (or one run) from the store into a report.",
    )
    # one of them is required by hand in _dispatch(), with argparse's message: "verify" and "keygen" take neither
    who = parser.add_mutually_exclusive_group()
    who.add_argument("--client", metavar="NAME", help="the client (inventory name)")
    who.add_argument("--all", action="store_true", help="fleet overview: one row per client")
    when = parser.add_mutually_exclusive_group()
    when.add_argument("--run", metavar="RUN_ID", dest="run_id", help="report on one run")
    when.add_argument("--period", metavar="YYYY-MM", help="report on a month (default: this month, UTC)")
    parser.add_argument("--format", default="html,json", metavar="FORMATS",
                        help="comma-separated: html,pdf,json,csv,md (default: html,json)")
    parser.add_argument("--out", type=Path, metavar="DIR",
                        help="folder to write into (default: $MAINT_HOME/reports/<client>/<period>/)")
    parser.add_argument("--locale", choices=("en", "fr"),
                        help="language of the report (default: the policy's report.locale, else en)")
    parser.add_argument("--email", action="store_true",
                        help="send by SMTP (STARTTLS): PDF and HTML attached, Markdown as the body")
    parser.add_argument("--webhook", metavar="URL", help="POST the JSON summary to this URL")
    parser.add_argument("--sign", action="store_true",
                        help="fail (before any work) when there is no signing key; with a key, JSON and PDF "
                             "are always signed")
    parser.set_defaults(func=run, report_parser=parser, action=None)
    actions = parser.add_subparsers(dest="action", metavar="[verify|keygen]",
                                    description="without an action, write a report")
    verify = actions.add_parser(
        "verify", help="check a report's JSON or PDF against its signature and the MSP's public key",
        description="Check FILE against FILE.sig and the MSP's public key. Exit 0: signature ok; 1: the report "
                    "is not proven (changed, another key, no or malformed signature); 2: it cannot be judged "
                    "(no such file, no usable public key).")
    verify.add_argument("file", type=Path, metavar="FILE", help="report.json or report.pdf (its FILE.sig beside it)")
    verify.add_argument("--public-key", type=Path, metavar="PATH",
                        help="the MSP's public key: PEM, OpenSSH or raw base64 "
                             "(default: $MAINT_HOME/signing/ed25519.pub)")
    actions.add_parser(
        "keygen", help="create the MSP's Ed25519 signing key pair (once; never replaces a key)",
        description="Write the private key (0600) to $MAINT_SIGNING_KEY, default ~/.config/maintctl/signing/"
                    "ed25519.key beside the vault folder, never under $MAINT_HOME, and the public key to "
                    "$MAINT_HOME/signing/ed25519.pub; print the public key and its fingerprint.")


REPORT_OPTIONS = ("client", "all", "run_id", "period", "out", "locale", "email", "webhook", "sign")


def _dispatch(args: argparse.Namespace) -> int:
    if args.action is None:
        if not (args.client or args.all):
            args.report_parser.error("one of the arguments --client --all is required")
        return _run(args)
    given = [f"--{name.replace('_', '-').replace('run-id', 'run')}" for name in REPORT_OPTIONS
             if getattr(args, name, None)]
    if given:
        args.report_parser.error(f"{args.action} takes no {'/'.join(given)}")
    return _verify(args) if args.action == "verify" else _keygen()


def _verify(args: argparse.Namespace) -> int:
    from maintreport import sign

    result = sign.verify_file(args.file, args.public_key)
    print(f"{args.file}: signature ok (key {result.fingerprint}, signed {result.signed_at})")
    return 0


def _keygen() -> int:
    from maintreport import sign

    pair = sign.keygen()
    if pair.created:
        print(f"private key: {pair.private} (0600, a secret: keep it out of backups others can read)")
    else:
        print(f"private key: {pair.private} (exists already, not replaced)")
    print(f"public key: {pair.public} (publish it: clients verify reports with it)")
    print(f"fingerprint: {pair.fingerprint}")
    print(pair.pem, end="")
    return 0


def run(args: argparse.Namespace) -> int:
    """Write the report, deliver it if asked, and print the paths written.

    With ``--all``, a client that cannot be reported (unreadable or invalid policy, vault,
    garbage in the store) is one line on stderr and a row marked in the overview; the other
    clients are reported, the files are written and delivered, and the exit code is 1.
    """
    from maintreport.policy import one_line

    try:
        return _dispatch(args)
    except MaintError as exc:
        # one short line whatever the cause (a long path, a YAML problem quoting the file...)
        raise type(exc)(one_line(exc, MAX_LINE - len("maintctl: error: "))) from None


def _run(args: argparse.Namespace) -> int:
    from maintreport import api, deliver
    from maintreport.policy import load_client_policy, report_settings

    formats = api.check_formats(args.format.split(","))
    if args.email:
        formats = api.check_formats(formats + ["html", "pdf", "md"])
        settings = deliver.smtp_settings()  # fail on missing settings before any work
    if args.sign:
        from maintreport import sign

        sign.report_key(required=True)  # before any work
    if args.webhook and not args.webhook.startswith(("http://", "https://")):
        raise InvalidInput(f"--webhook: {args.webhook!r} is not an http(s) URL")
    if args.period:
        api.check_period(args.period)
    with Store() as store:
        if args.all:
            if args.run_id:
                raise InvalidInput("--all reports on a period, not on one run")
            names = inventory.clients()
            doc, paths = api.write_fleet(store, names, period=args.period, formats=formats,
                                         out_dir=args.out, locale=args.locale or "en")
            subject = f"Fleet overview {doc['period']['label']}"
            failed = api.fleet_errors(doc)
        else:
            locale = args.locale or report_settings(load_client_policy(args.client))["locale"]
            doc, paths = api.write_report_doc(store, args.client, period=args.period, run_id=args.run_id,
                                              formats=formats, out_dir=args.out, locale=locale)
            subject = (f"Maintenance report {doc['client_name']} {doc['period']['label']}"
                       f" (score {doc['summary']['score']})")
            failed = []
    for line in failed:
        print(f"maintctl: error: {line}"[:MAX_LINE], file=sys.stderr)
    for fmt, path in paths.items():
        print(f"{fmt}: {path}")
    signatures = _signatures(paths)
    for fmt, sig in signatures.items():
        print(f"{fmt}.sig: {sig}")
    if args.email:
        attached = [paths["pdf"], *([signatures["pdf"]] if "pdf" in signatures else []), paths["html"]]
        message = deliver.build_message(subject, paths["md"].read_text(encoding="utf-8"),
                                        attached, settings["from"], settings["to"])
        deliver.send_email(message, settings)
        print(f"email: sent to {', '.join(settings['to'])}")
    if args.webhook:
        status = deliver.post_webhook(args.webhook, deliver.webhook_summary(doc, paths))
        print(f"webhook: HTTP {status}")
    return 1 if failed else 0


def _signatures(paths: dict[str, Path]) -> dict[str, Path]:
    """The signatures just written beside the files (none without a signing key)."""
    from maintreport import sign

    found = {fmt: sign.signature_path(path) for fmt, path in paths.items() if fmt in sign.SIGNED_FORMATS}
    return {fmt: sig for fmt, sig in found.items() if sig.is_file()}
