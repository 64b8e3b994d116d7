"""``maintctl tick`` e-mails the previous month's report on its delivery day, once (no lab needed).

Clients in tmp_path, each with one nightly run stored on 10 July 2026 (Europe/Paris): acme (English)
and bravo (French) deliver on ``first_working_day`` at 08:00 local time. 1 August 2026 is a Saturday,
so the July report is due on Monday 3 August from 08:00 CEST (06:00 UTC). Mail goes to the real SMTP
server of tests/servers.py (STARTTLS, AUTH) on loopback; ``MAINT_TEST_NOW`` sets each tick's time.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from maintcore.store import Store
from maintctl import cli
from maintreport import api, deliver
from tests import servers

MON_0800 = "2026-08-03T06:00:00Z"  # Monday 3 August, 08:00 in Paris
RECIPIENTS = {"acme": ["boss@acme.example", "it@acme.example"], "bravo": ["patron@bravo.example"]}


def write_client(inv: Path, name: str, locale: str, **report: Any) -> None:
    """A client with one host, delivering on the first working day at 08:00."""
    folder = inv / name / "group_vars" / "all"
    folder.mkdir(parents=True)
    (inv / name / "hosts.yml").write_text(yaml.safe_dump({"all": {"hosts": {"srv01": {"ansible_host": "127.0.0.1"}}}}))
    policy = {"client_name": f"{name.capitalize()} SAS", "timezone": "Europe/Paris",
              "windows": ["Mon-Fri 20:00-06:00"],
              "report": {"locale": locale, "deliver_on": "first_working_day", "deliver_at": "08:00",
                         "recipients": RECIPIENTS.get(name, [f"it@{name}.example"]), **report}}
    (folder / "policy.yml").write_text(yaml.safe_dump({"maint_policy": policy}, allow_unicode=True))


def store_july(home: Path, client: str) -> None:
    """One nightly run of July: a warning on srv01."""
    at = "2026-07-10T19:00:00Z"
    with Store(home / "store.db") as store:
        store.start_run({"run_id": f"{client}-r1", "client": client, "areas": "hardware", "started": at})
        store.add_results([{"run_id": f"{client}-r1", "client": client, "host": "srv01",
                            "check": "hardware.disk_free", "item": "/", "status": "warning", "severity": "P3",
                            "summary": "/: 15 % free", "observed": {"free_pct": 15.0}, "threshold": {"warn": 20},
                            "remediation": "Free space on /", "changed": False, "started": at, "finished": at}])
        store.finish_run(f"{client}-r1", "completed", 1, at)


@pytest.fixture()
def inv(tmp_path: Path, maint_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    inv = tmp_path / "inventories"
    monkeypatch.setenv("MAINT_INVENTORIES", str(inv))
    maint_home.mkdir(mode=0o700)
    write_client(inv, "acme", "en")
    store_july(maint_home, "acme")
    return inv


def use(monkeypatch: pytest.MonkeyPatch, smtp: servers.SmtpServer) -> None:
    for key, value in smtp.env(sender="reports@msp.example").items():
        monkeypatch.setenv(key, value)


def tick(monkeypatch: pytest.MonkeyPatch, now: str, *args: str) -> int:
    monkeypatch.setenv("MAINT_TEST_NOW", now)
    return cli.main(["tick", *args])


def deliveries(home: Path) -> list[dict[str, Any]]:
    with Store(home / "store.db") as store:
        return [dict(r) for r in store.db.execute("SELECT * FROM report_deliveries ORDER BY client, period")]


def test_not_due_on_the_last_day_of_the_month_a_saturday_first_or_before_0800(
        inv: Path, maint_home: Path, smtp_server: servers.SmtpServer, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    use(monkeypatch, smtp_server)
    for now in ("2026-07-31T10:00:00Z",   # Friday 31 July: July is not over
                "2026-07-31T21:59:00Z",   # 23:59 in Paris, still July
                "2026-08-01T06:00:00Z",   # Saturday 1 August, 08:00: not a working day
                "2026-08-02T10:00:00Z",   # Sunday
                "2026-08-03T05:59:00Z"):  # Monday 07:59 in Paris
        assert tick(monkeypatch, now) == 0, now
    assert smtp_server.messages == [] and deliveries(maint_home) == []
    assert "report" not in capsys.readouterr().out


def test_due_on_monday_3rd_at_0800_and_sent_exactly_once(inv: Path, maint_home: Path,
                                                          smtp_server: servers.SmtpServer,
                                                          monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    use(monkeypatch, smtp_server)
    assert tick(monkeypatch, MON_0800, "--dry-run") == 0
    assert "acme: would deliver the 2026-07 report to boss@acme.example, it@acme.example" in capsys.readouterr().out
    assert deliveries(maint_home) == [] and smtp_server.messages == []

    assert tick(monkeypatch, MON_0800) == 0
    assert "acme: the 2026-07 report was sent to boss@acme.example, it@acme.example (attempt 1)" \
        in capsys.readouterr().out
    assert tick(monkeypatch, "2026-08-03T06:01:00Z") == 0
    assert tick(monkeypatch, "2026-08-04T06:00:00Z") == 0
    assert "report" not in capsys.readouterr().out
    (msg,) = smtp_server.messages
    assert smtp_server.envelopes == [("reports@msp.example", RECIPIENTS["acme"])]
    assert msg["Subject"] == "Maintenance report Acme SAS 2026-07"
    body = msg.get_body(preferencelist=("plain",))
    assert body is not None
    text = body.get_content().replace("\r\n", "\n")
    report = maint_home / "reports" / "acme" / "2026-07"
    assert text == (report / "report.md").read_text(encoding="utf-8")  # the summary: the first page
    assert text.startswith("# Maintenance report: Acme SAS (2026-07)") and "| Hardware | red |" in text
    pdf, html = list(msg.iter_attachments())
    assert pdf.get_content_type() == "application/pdf" and pdf.get_filename() == "report.pdf"
    assert html.get_content_type() == "text/html" and html.get_filename() == "report.html"
    assert pdf.get_content() == (report / "report.pdf").read_bytes()
    assert pdf.get_content().startswith(b"%PDF")
    (row,) = deliveries(maint_home)
    assert row["client"] == "acme" and row["period"] == "2026-07" and row["state"] == "sent"
    assert row["attempts"] == 1 and row["last_error"] is None and row["sent"] == MON_0800
    assert json.loads(row["recipients"]) == RECIPIENTS["acme"]
    assert json.loads(row["files"]) == [str(report / "report.pdf"), str(report / "report.html")]


def test_a_failed_send_is_recorded_and_retried_on_the_next_tick(inv: Path, maint_home: Path, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    with servers.smtp_server(tmp_path / "first") as smtp:
        use(monkeypatch, smtp)
    # the server is stopped: nothing listens on its port any more
    assert tick(monkeypatch, MON_0800) == 1
    err = capsys.readouterr().err
    assert "acme: the 2026-07 report was not delivered (attempt 1, retried in 1 min or later): " \
           f"e-mail via 127.0.0.1:{smtp.port} failed" in err
    assert servers.SMTP_PASSWORD not in err
    (row,) = deliveries(maint_home)
    assert row["state"] == "failed" and row["attempts"] == 1 and row["sent"] is None
    assert f"e-mail via 127.0.0.1:{smtp.port} failed" in row["last_error"]
    assert servers.SMTP_PASSWORD not in row["last_error"]
    # 30 s later is too early for the retry; the next tick's minute is not
    assert tick(monkeypatch, "2026-08-03T06:00:30Z") == 0
    assert deliveries(maint_home)[0]["attempts"] == 1
    with servers.smtp_server(tmp_path / "second") as smtp:
        use(monkeypatch, smtp)
        assert tick(monkeypatch, "2026-08-03T06:01:00Z") == 0
        assert "acme: the 2026-07 report was sent to boss@acme.example, it@acme.example (attempt 2)" \
            in capsys.readouterr().out
        assert tick(monkeypatch, "2026-08-03T06:02:00Z") == 0
        assert len(smtp.messages) == 1
    (row,) = deliveries(maint_home)
    assert row["state"] == "sent" and row["attempts"] == 2 and row["last_error"] is None
    assert row["sent"] == "2026-08-03T06:01:00Z"


def test_the_body_is_in_the_clients_language(inv: Path, maint_home: Path, smtp_server: servers.SmtpServer,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    write_client(inv, "bravo", "fr")
    store_july(maint_home, "bravo")
    (maint_home / "msp.yml").write_text("name: Contoso Infogérance\ncontact: {email: support@contoso.example}\n",
                                        encoding="utf-8")
    use(monkeypatch, smtp_server)
    assert tick(monkeypatch, MON_0800) == 0
    by_to = {tuple(to): msg for (_sender, to), msg in zip(smtp_server.envelopes, smtp_server.messages, strict=True)}
    fr = by_to[("patron@bravo.example",)]
    assert fr["Subject"] == "Contoso Infogérance : rapport de maintenance Bravo SAS 2026-07"
    body = fr.get_body(preferencelist=("plain",))
    assert body is not None
    text = body.get_content().replace("\r\n", "\n")
    assert text.startswith("# Rapport de maintenance") and "| Matériel | rouge |" in text
    assert "Préparé par Contoso Infogérance" in text and "support@contoso.example" in text
    en = by_to[tuple(RECIPIENTS["acme"])]
    assert en["Subject"] == "Contoso Infogérance: maintenance report Acme SAS 2026-07"


def test_one_clients_failure_never_stops_anothers(inv: Path, maint_home: Path, smtp_server: servers.SmtpServer,
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """broken's report cannot be built (a vault value and no password file: the report fails closed)."""
    write_client(inv, "broken", "en")
    store_july(maint_home, "broken")
    (inv / "broken" / "group_vars" / "all" / "vault.yml").write_text(
        "secret: !vault |\n  $ANSIBLE_VAULT;1.1;AES256\n  3132333435363738393031323334353637383930\n")
    use(monkeypatch, smtp_server)
    assert tick(monkeypatch, MON_0800) == 1
    captured = capsys.readouterr()
    assert "acme: the 2026-07 report was sent" in captured.out
    assert "broken: the 2026-07 report was not delivered (attempt 1" in captured.err
    assert [to for _s, to in smtp_server.envelopes] == [RECIPIENTS["acme"]]
    states = {r["client"]: (r["state"], r["attempts"]) for r in deliveries(maint_home)}
    assert states == {"acme": ("sent", 1), "broken": ("failed", 1)}


def test_a_month_without_data_is_not_delivered_and_a_signature_is_attached(
        inv: Path, maint_home: Path, smtp_server: servers.SmtpServer, monkeypatch: pytest.MonkeyPatch) -> None:
    write_client(inv, "quiet", "en")  # nothing stored for July: no report, nothing recorded
    use(monkeypatch, smtp_server)
    write = api.write_report_doc

    def write_signed(*args: Any, **kwargs: Any) -> Any:
        """A signed report: the signature beside the PDF (as maintreport.sign writes it)."""
        doc, paths = write(*args, **kwargs)
        paths["pdf"].with_name("report.pdf.sig").write_text('{"format": "maintreport-signature-v1"}')
        return doc, paths

    monkeypatch.setattr(api, "write_report_doc", write_signed)
    assert tick(monkeypatch, MON_0800) == 0
    assert [to for _s, to in smtp_server.envelopes] == [RECIPIENTS["acme"]]
    names = [a.get_filename() for a in smtp_server.messages[0].iter_attachments()]
    assert names == ["report.pdf", "report.html", "report.pdf.sig"]
    assert [r["client"] for r in deliveries(maint_home)] == ["acme"]


def test_bad_delivery_settings_are_one_line_and_the_others_still_deliver(
        inv: Path, maint_home: Path, smtp_server: servers.SmtpServer, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    write_client(inv, "typo", "en", deliver_on="first_monday")
    use(monkeypatch, smtp_server)
    assert tick(monkeypatch, MON_0800) == 2
    err = capsys.readouterr().err
    assert "typo: skipped:" in err and "deliver_on" in err
    assert [to for _s, to in smtp_server.envelopes] == [RECIPIENTS["acme"]]


# -- the delivery day ------------------------------------------------------------------------------------
def _settings(**report: Any) -> dict[str, Any]:
    settings = deliver.delivery_settings({"report": {"recipients": ["a@b.example"], **report}})
    assert settings is not None
    return settings


def test_the_delivery_day() -> None:
    first = _settings(deliver_on="first_working_day")
    assert deliver.delivery_day(2026, 8, first) == dt.date(2026, 8, 3)      # Sat 1st -> Mon 3rd
    assert deliver.delivery_day(2026, 9, first) == dt.date(2026, 9, 1)      # a Tuesday
    holidays = _settings(deliver_on="first_working_day", holidays=[dt.date(2027, 1, 1), "2027-01-04"])
    assert deliver.delivery_day(2027, 1, holidays) == dt.date(2027, 1, 5)   # Fri 1st and Mon 4th are holidays
    assert deliver.delivery_day(2026, 2, _settings(deliver_on="day 31")) == dt.date(2026, 2, 28)
    assert deliver.delivery_day(2026, 8, _settings(deliver_on="day 5")) == dt.date(2026, 8, 5)
    at = _settings(deliver_on="day 5", deliver_at="14:30")
    paris = "Europe/Paris"
    assert deliver.due_period(at, paris, dt.datetime(2026, 8, 5, 12, 29, tzinfo=dt.UTC)) is None
    assert deliver.due_period(at, paris, dt.datetime(2026, 8, 5, 12, 30, tzinfo=dt.UTC)) == "2026-07"
    assert deliver.due_period(at, paris, dt.datetime(2026, 8, 31, 21, 59, tzinfo=dt.UTC)) == "2026-07"
    assert deliver.due_period(at, paris, dt.datetime(2027, 1, 5, 13, 30, tzinfo=dt.UTC)) == "2026-12"
    # off without deliver_on or without recipients
    assert deliver.delivery_settings({"report": {"deliver_on": "day 1"}}) is None
    assert deliver.delivery_settings({"report": {"recipients": ["a@b.example"]}}) is None
    assert deliver.delivery_settings({}) is None
