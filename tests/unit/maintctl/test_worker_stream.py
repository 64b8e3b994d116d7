"""Worker runs: the streamed events become the collector's results as they arrive.

Replays real event lines recorded from a real worker run (tests/fixtures/worker/README.md) through
:class:`maintctl.worker.ResultStream` and compares with what the worker's own collector wrote.
The real kill of a controller mid-run is in tests/integration/test_worker_lab.py.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from maintctl import orchestrator, worker
from tests.conftest import assert_valid_results

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "worker"
RUN_ID = "20261202T102317Z-8a1f4a"
SYNTHETIC = ("run.reachability",)  # made by the collector itself, stamped with its own clock


def _events(name: str = "hardware_antivirus_check") -> list[dict[str, Any]]:
    lines = (FIXTURES / f"{name}.events.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def _worker_results(name: str = "hardware_antivirus_check") -> list[dict[str, Any]]:
    return orchestrator.read_results(FIXTURES / f"{name}.results.jsonl")


# The result shape the collector writes (a field it gained or lost since a recording is not compared).
SHAPE = {*worker._load_collector().RESULT_FIELDS, "client", "host", "run_id"}


def _comparable(records: list[dict[str, Any]], fields: set[str]) -> list[dict[str, Any]]:
    """The result shape's fields of each result, without the clock of the results the collector stamps itself."""
    out = []
    for record in records:
        kept = {key: value for key, value in record.items() if key in fields}
        if record["check"] in SYNTHETIC:
            kept.pop("started"), kept.pop("finished")
        out.append(kept)
    return out


def _stream(tmp_path: Path) -> worker.ResultStream:
    return worker.ResultStream(tmp_path / "results.jsonl", "demo", RUN_ID)


def test_the_recorded_stream_gives_the_results_the_workers_collector_wrote(tmp_path: Path) -> None:
    stream = _stream(tmp_path)
    for event in _events():
        stream.feed(event)
    streamed = orchestrator.read_results(tmp_path / "results.jsonl")
    expected = _worker_results()
    assert len(expected) == 92  # the recorded run: 5 hosts, hardware and antivirus
    fields = {key for record in expected for key in record} & SHAPE
    assert fields == SHAPE
    # Same results, same order, same values.
    assert _comparable(streamed, fields) == _comparable(expected, fields)
    assert_valid_results(streamed)


def test_an_unreachable_host_from_the_stream_is_the_workers_host_key_refusal(tmp_path: Path) -> None:
    # Recorded with web01's key swapped in the inventory's known_hosts: ssh refused it on the worker.
    stream = worker.ResultStream(tmp_path / "results.jsonl", "demo", "20261202T103318Z-7ea0ad")
    for event in _events("changed_host_key"):
        stream.feed(event)
    streamed = orchestrator.read_results(tmp_path / "results.jsonl")
    expected = _worker_results("changed_host_key")
    assert _comparable(streamed, SHAPE) == _comparable(expected, SHAPE)
    web01 = [r for r in streamed if r["host"] == "web01"]
    assert [(r["check"], r["status"], r["observed"]["host_key"]) for r in web01] == [
        ("run.reachability", "critical", "changed")]
    assert web01[0]["summary"].startswith("host key changed") and "known_hosts" in web01[0]["remediation"]
    assert {"hardware.disk_free", "run.reachability"} <= {r["check"] for r in streamed if r["host"] == "db01"}


def test_each_result_is_on_disk_as_soon_as_its_event_is_fed(tmp_path: Path) -> None:
    stream = _stream(tmp_path)
    seen = 0
    for event in _events():
        res = (event.get("event_data") or {}).get("res") or {}
        stream.feed(event)
        if event["event"] == "runner_on_ok" and res.get("maint_results"):
            # Read by another open of the file, as a controller restarted after a SIGKILL reads it.
            on_disk = orchestrator.read_results(tmp_path / "results.jsonl")
            assert len(on_disk) == seen + len(res["maint_results"])
            assert on_disk[-1]["host"] == event["event_data"]["host"]
            seen = len(on_disk)
    assert seen == 92 - 5  # all but the 5 run.reachability ok the play's end (playbook_on_stats) adds
    assert [r["host"] for r in orchestrator.read_results(tmp_path / "results.jsonl")[-5:]] == sorted(
        ["web01", "db01", "files01", "app01", "web02"])


def test_the_final_collection_replaces_the_streamed_results_without_duplicates(tmp_path: Path) -> None:
    stream = _stream(tmp_path)
    for event in _events():
        stream.feed(event)
    returned = tmp_path / "artifacts" / "ansible" / worker.RESULTS_NAME
    returned.parent.mkdir(parents=True)
    returned.write_bytes((FIXTURES / "hardware_antivirus_check.results.jsonl").read_bytes())
    stream.finish(returned)
    assert (tmp_path / "results.jsonl").read_bytes() == \
        (FIXTURES / "hardware_antivirus_check.results.jsonl").read_bytes()
    assert not returned.exists()


def test_a_cut_returned_file_keeps_the_streamed_results_it_lacks(tmp_path: Path) -> None:
    stream = _stream(tmp_path)
    for event in _events():
        stream.feed(event)
    lines = (FIXTURES / "hardware_antivirus_check.results.jsonl").read_text(encoding="utf-8").splitlines()
    returned = tmp_path / "returned.jsonl"
    returned.write_text("\n".join(lines[:40]) + "\n" + lines[40][:25], encoding="utf-8")  # a last line cut
    stream.finish(returned)
    final = orchestrator.read_results(tmp_path / "results.jsonl")
    assert len(final) == 92
    assert len({(r["host"], r["check"], r["item"]) for r in final}) == len(
        {(r["host"], r["check"], r["item"]) for r in _worker_results()})
    assert final[:40] == _worker_results()[:40]


def test_no_returned_file_keeps_what_was_streamed(tmp_path: Path) -> None:
    stream = _stream(tmp_path)
    events = _events()
    for event in events[: len(events) // 2]:
        stream.feed(event)
    before = (tmp_path / "results.jsonl").read_bytes()
    assert before
    stream.finish(tmp_path / "absent.jsonl")
    assert (tmp_path / "results.jsonl").read_bytes() == before


def _first(kind: str, with_results: bool = True) -> dict[str, Any]:
    for event in _events():
        if event["event"] == kind and bool((event["event_data"].get("res") or {}).get("maint_results")) == with_results:
            return copy.deepcopy(event)
    raise AssertionError(kind)


def test_a_censored_result_is_never_read(tmp_path: Path) -> None:
    # awx_display replaces the res of a no_log task by {"censored": ...} before it is streamed.
    event = _first("runner_on_ok")
    event["event_data"]["res"] = {"censored": "the output has been hidden due to the fact that 'no_log: true' "
                                              "was specified for this result"}
    stream = _stream(tmp_path)
    stream.feed(event)
    assert orchestrator.read_results(tmp_path / "results.jsonl") == []
    failed = copy.deepcopy(event)
    failed["event"] = "runner_on_failed"
    stream.feed(failed)
    (record,) = orchestrator.read_results(tmp_path / "results.jsonl")
    assert (record["check"], record["status"]) == ("run.task_failed", "unknown")
    assert record["summary"].endswith("output hidden (no_log)") and record["host"] == event["event_data"]["host"]


def test_an_invalid_result_in_the_stream_is_validated_as_in_a_local_run(tmp_path: Path) -> None:
    event = _first("runner_on_ok")
    event["event_data"]["res"]["maint_results"][0]["status"] = "fine"
    stream = _stream(tmp_path)
    stream.feed(event)
    records = orchestrator.read_results(tmp_path / "results.jsonl")
    assert (records[0]["check"], records[0]["status"]) == ("run.invalid_result", "unknown")
    assert records[0]["client"] == "demo" and records[0]["run_id"] == RUN_ID


def test_events_the_collector_does_not_read_write_nothing(tmp_path: Path) -> None:
    stream = _stream(tmp_path)
    for event in _events():
        if event["event"] not in ("runner_on_ok", "runner_on_failed", "runner_on_unreachable", "playbook_on_stats"):
            stream.feed(event)
    stream.feed({"event": "runner_on_ok", "event_data": "not a mapping"})
    stream.feed({"event": "keepalive"})
    assert not (tmp_path / "results.jsonl").exists()
