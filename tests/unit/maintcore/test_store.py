"""The store: runs and results round-trip, private file mode, forgetting a run that never started."""

from __future__ import annotations

from pathlib import Path

from maintcore.store import Store


def _res(check: str, status: str, **kw: object) -> dict:
    base = {"client": "c", "host": "h", "run_id": "r", "check": check, "item": "", "status": status,
            "summary": "s", "observed": {}, "threshold": {}, "remediation": "", "changed": False,
            "started": "2026-11-01T00:00:00Z", "finished": "2026-11-01T00:00:00Z"}
    base.update(kw)
    return base


def test_store_round_trip(maint_home: Path) -> None:
    with Store() as store:
        store.start_run({"run_id": "r", "client": "c", "areas": "hardware", "started": "2026-11-01T00:00:00Z"})
        store.add_results([_res("hardware.disk_free", "critical", severity="P2", observed={"free_pct": 3})])
        store.finish_run("r", "completed", 1, "2026-11-01T00:01:00Z")
        (res,) = store.results("c", run_id="r")
        assert (res["check"], res["area"], res["severity"], res["observed"]) == (
            "hardware.disk_free", "hardware", "P2", {"free_pct": 3})
        assert store.run("r")["exit_code"] == 1
    assert oct((maint_home / "store.db").stat().st_mode & 0o777) == "0o600"


def test_forget_run_removes_only_a_run_without_results(maint_home: Path) -> None:
    with Store() as store:
        for run_id in ("empty", "full"):
            store.start_run({"run_id": run_id, "client": "c", "areas": "hardware", "started": "2026-11-01T00:00:00Z"})
        store.add_results([_res("hardware.disk_free", "ok", run_id="full")])
        store.forget_run("empty")
        store.forget_run("full")
        assert store.run("empty") is None
        assert store.run("full") is not None
