"""Run the maintenance playbooks for one client through ansible-runner.

One run = one private data dir under ``$MAINT_HOME/runs/<client>/<run_id>/`` holding
the ansible-runner artifacts and ``results.jsonl`` (written by the collector callback as
results arrive). When the run ends, however it ends, the results are loaded into the
store with their SLA severity, and the exit code follows DESIGN.md.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import re
import secrets
import shlex
import shutil
import signal
import sqlite3
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from maint_utils import maint_clock
from maint_utils.checks import AREAS
from maintcore import inventory, supervision
from maintcore.config import PROJECT_DIR, atomic_write, atomic_write_json, ensure_dir, maint_home
from maintcore.errors import InvalidInput, LockHeld, MaintError
from maintcore.store import Store

from . import policy

EXIT_OK, EXIT_FINDINGS, EXIT_INVALID, EXIT_INTERRUPTED, EXIT_LOCKED = 0, 1, 2, 3, 4
# Runs that supervise between windows: they hold their own lock (a watch goes on during a
# nightly window) and store only what is not ok or changed (maintcore.supervision.observe).
SUPERVISION_KINDS = ("watch", "probe")


@dataclass
class RunRequest:
    """What a user asked for."""

    client: str
    areas: list[str] = field(default_factory=list)
    limit: str | None = None
    check: bool = False
    scan_only: bool = False
    ignore_window: bool = False
    kind: str = "adhoc"
    resume: str | None = None
    role_vars: dict[str, Any] = field(default_factory=dict)
    worker: list[str] | None = None  # run on another machine (maintctl.worker)
    # A playbook instead of the areas': relative to playbooks/ (the health watch), or an absolute
    # path the caller resolved and checked (maintctl play: inside the project or the client's folder).
    playbook: str | None = None
    extravars: dict[str, Any] = field(default_factory=dict)  # set by maintctl itself, never from --var
    # An ad hoc run (maintctl play, maintctl adhoc): who ran what, written to run.json as "adhoc".
    # It has no areas (the store's areas say "adhoc"), no window guard and installs no patch.
    adhoc: dict[str, Any] | None = None
    module: str | None = None  # maintctl adhoc: one module (ansible -m) instead of a playbook
    module_args: str | None = None
    # Values never kept (an ad hoc run's vault values and secret -e values): masked in the run
    # folder's files and in the results before they are stored.
    mask: list[str] = field(default_factory=list)

    @property
    def lock_name(self) -> str:
        """The lock this run holds: the client's, or its own per kind for supervision (watch)."""
        return self.client if self.kind not in SUPERVISION_KINDS else f"{self.kind}-{self.client}"


# Only documented role inputs (each role's meta/argument_specs.yml) may be set from the command
# line, for example a backup seed to replay. Never what guards the run: the policy sections
# (validated by maintctl validate), the window guard, commands run on hosts, or the install switch
# the orchestrator derives from --check/--scan-only and the window.
ROLE_SPECS = tuple(sorted((PROJECT_DIR / "roles").glob("*/meta/argument_specs.yml")))
GUARD_VAR_RE = re.compile(r"(_policy|_command|_window_end|_window_min_remaining)$")
ORCHESTRATOR_VARS = {"patch_install"}


def settable_role_vars() -> set[str]:
    """Return the role inputs ``--var`` may set: documented in argument_specs and not a guard."""
    names: set[str] = set()
    for spec_file in ROLE_SPECS:
        with open(spec_file, encoding="utf-8") as handle:
            specs = (yaml.safe_load(handle) or {}).get("argument_specs") or {}
        for entry in specs.values():
            names.update((entry or {}).get("options") or {})
    return {n for n in names if not GUARD_VAR_RE.search(n) and n not in ORCHESTRATOR_VARS}


def parse_role_vars(items: list[str] | None) -> dict[str, Any]:
    """Turn ``--var NAME=VALUE`` options into a dict, accepting documented role inputs only."""
    out: dict[str, Any] = {}
    allowed = settable_role_vars() if items else set()
    for item in items or []:
        name, sep, value = item.partition("=")
        if not sep or name not in allowed:
            shown = item if len(item) <= 60 else item[:57] + "..."
            raise InvalidInput(
                f"--var {shown!r}: expected NAME=VALUE where NAME is a role input: {', '.join(sorted(allowed))}"
            )
        # A list or mapping is written as YAML flow, e.g. backup_only=[files01-restic].
        try:
            out[name] = yaml.safe_load(value) if value[:1] in ("[", "{") else value
        except yaml.YAMLError as exc:
            raise InvalidInput(f"--var {name}: invalid YAML flow value: {str(exc).splitlines()[0][:200]}") from None
    return out


@dataclass
class RunOutcome:
    """How a run ended."""

    run_id: str
    run_dir: Path
    status: str
    exit_code: int
    results: list[dict[str, Any]]
    hosts: list[str]


def parse_areas(text: str | None) -> list[str]:
    """Turn ``--only hardware,patch`` into a list, rejecting unknown areas."""
    if not text:
        return list(AREAS)
    areas = [a.strip() for a in text.split(",") if a.strip()]
    unknown = [a for a in areas if a not in AREAS]
    if unknown or not areas:
        raise InvalidInput(f"--only: unknown area {', '.join(unknown) or repr(text)}; choose from {', '.join(AREAS)}")
    return [a for a in AREAS if a in areas]


def playbook_of(area: str) -> str:
    """Return the playbook of one area, relative to ``playbooks/``: ``<area>.yml``."""
    return f"{area}.yml"


def available_areas(areas: list[str]) -> list[str]:
    """Keep the areas whose playbook exists in this tree."""
    return [a for a in areas if (PROJECT_DIR / "playbooks" / playbook_of(a)).is_file()]


@contextmanager
def exclusive_lock(name: str, busy: str) -> Iterator[None]:
    """Hold ``$MAINT_HOME/locks/<name>.lock`` (flock, released if the process dies).

    When another process holds it, raise LockHeld (exit 4) with ``busy``, whose
    ``{holder}`` becomes the holder's pid.
    """
    path = ensure_dir(maint_home() / "locks") / f"{name}.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip() or "another process"
            raise LockHeld(busy.format(holder=holder)) from exc
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}".encode(), 0)
        yield
    finally:
        os.close(fd)


def client_lock(client: str) -> AbstractContextManager[None]:
    """Hold the client's lock for the duration of a run (exit 4 when taken)."""
    return exclusive_lock(client, f"client {client!r} is locked by {{holder}}")


def new_run_id(now: dt.datetime) -> str:
    """Return a sortable, unique run id."""
    return f"{now.astimezone(dt.UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def read_results(path: Path) -> list[dict[str, Any]]:
    """Read results.jsonl, tolerating a last line cut by a kill."""
    out: list[dict[str, Any]] = []
    if not path.exists():
        return out
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(rec, dict) and rec.get("check") and rec.get("status"):
            out.append(rec)
    return out


def _shift(stamp: str, delta: dt.timedelta) -> str:
    if not delta:
        return stamp
    try:
        shifted: str = maint_clock.to_iso(maint_clock.parse_iso(stamp) + delta)
        return shifted
    except ValueError:
        return stamp


def finalize_results(results: list[dict[str, Any]], pol: dict[str, Any], delta: dt.timedelta) -> list[dict[str, Any]]:
    """Add severity from the SLA table and apply the test clock's offset."""
    for res in results:
        res["severity"] = policy.severity_for(pol, res["check"], res["status"])
        res["started"] = _shift(res["started"], delta)
        res["finished"] = _shift(res["finished"], delta)
    return results


def exit_code_for(status: str, results: list[dict[str, Any]], rc: int) -> int:
    """Map a finished run to DESIGN.md's exit codes."""
    if status in ("canceled", "timeout") or any(r["check"].endswith(".deferred") for r in results):
        return EXIT_INTERRUPTED
    failed = any(r["check"] in ("run.task_failed", "run.reachability") and r["status"] != "ok" for r in results)
    if rc != 0 or failed or any(r["status"] == "critical" for r in results):
        return EXIT_FINDINGS
    return EXIT_OK


def scrub_artifacts(run_dir: Path) -> None:
    """Drop the environment ansible-runner copies into its artifacts.

    ansible-runner records the whole process environment in ``artifacts/*/command``;
    an operator's environment may hold secrets (SMTP password, cloud tokens), so the
    environment is removed and the file kept otherwise.
    """
    for command in run_dir.glob("artifacts/*/command"):
        try:
            data = json.loads(command.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            continue
        data.pop("env", None)
        atomic_write_json(command, data)
    for path in run_dir.rglob("*"):
        os.chmod(path, 0o700 if path.is_dir() else 0o600)


class _Interrupt:
    """Turns SIGINT/SIGTERM into a cancel request for ansible-runner."""

    def __init__(self) -> None:
        self.requested = False
        self._old: dict[int, Any] = {}

    def __enter__(self) -> _Interrupt:
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame: object) -> None:
        self.requested = True

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._old.items():
            signal.signal(sig, handler)


def window_vars(pol: dict[str, Any], req: RunRequest, installs: bool, now: dt.datetime) -> dict[str, Any]:
    """Check the maintenance window for disruptive work and return the play's window vars.

    Raises InvalidInput (exit 2, nothing ran) when a run that installs patches starts
    outside a window without ``--ignore-window``.
    """
    values: dict[str, Any] = {
        "maint_window_end": "",
        "maint_window_min_remaining": int(pol.get("window_min_remaining_minutes", 30)),
    }
    if not installs or req.ignore_window:
        return values
    from maint_utils import maint_window  # the window logic; imported late so scans never depend on it

    schedule = maint_window.from_policy(pol)
    current = schedule.current(now)
    if current is None:
        upcoming = schedule.next(now, 1)
        nxt = "no upcoming window"
        if upcoming:
            win = upcoming[0]
            nxt = (f"next window: {win.local_start:%a %Y-%m-%d %H:%M} to {win.local_end:%a %Y-%m-%d %H:%M %Z}"
                   f" (UTC {maint_clock.to_iso(win.start)})")
        raise InvalidInput(
            f"outside the maintenance window of client {req.client!r} ({nxt}); patch installs need a window: "
            "use --scan-only or --check to scan now, or --ignore-window"
        )
    values["maint_window_end"] = maint_clock.to_iso(current.end)
    return values


def recover_stale_runs(store: Store, client: str, pol: dict[str, Any], kind: str = "run") -> list[str]:
    """Load the results of runs whose controller died (SIGKILL, power loss) into the store.

    Called with the client's lock held, so a run still marked ``running`` is dead: its
    results.jsonl (flushed by the collector as results arrived) is loaded and the run is
    marked interrupted, so it can be resumed. Returns the recovered run ids. ``kind`` says
    which lock is held: a watch's own (``watch``), or the client's (any other kind): only the
    runs that lock guards are looked at.
    """
    recovered = []
    for run in store.runs(client):
        if run["status"] != "running" or not run.get("run_dir"):
            continue
        guarded = run["kind"] == kind if kind in SUPERVISION_KINDS else run["kind"] not in SUPERVISION_KINDS
        if not guarded:
            continue
        results_file = Path(run["run_dir"]) / "results.jsonl"
        results = finalize_results(read_results(results_file), pol, dt.timedelta(0))
        known = len(store.results(client, run_id=run["run_id"]))
        if not known:
            store.add_results(results)
        store.finish_run(run["run_id"], "interrupted", EXIT_INTERRUPTED, maint_clock.to_iso(maint_clock.now()))
        recovered.append(run["run_id"])
    return recovered


def record_results(store: Store, req: RunRequest, meta: dict[str, Any], results: list[dict[str, Any]],
                   pol: dict[str, Any]) -> None:
    """Store a run's results, then let supervision turn them into alert transitions.

    The results land first, in their own transaction: whatever the alert code does, no
    result already collected is lost. A watch stores only what is not ok or changed.
    """
    if req.kind in SUPERVISION_KINDS:
        try:
            supervision.observe(store, req.client, meta, results, pol)
            return
        except (sqlite3.Error, KeyError, TypeError, ValueError) as exc:
            print(f"maintctl: warning: alerts not updated for run {meta['run_id']}: {type(exc).__name__}: {exc}",
                  file=sys.stderr)
            store.add_results(results)
            return
    with store.transaction() as db:
        ids = store.insert_results(db, results)
    try:
        supervision.ingest_run(store, req.client, results, ids, pol)
    except (sqlite3.Error, KeyError, TypeError, ValueError) as exc:
        print(f"maintctl: warning: alerts not updated for run {meta['run_id']}: {type(exc).__name__}: {exc}",
              file=sys.stderr)


def controller_tool(name: str) -> str:
    """Return the path of one of the controller's Ansible tools, whatever ``PATH`` is.

    The tools installed with maintctl sit next to its Python (the venv's ``bin/``); a
    system-wide install may have them elsewhere on ``PATH``. Raises InvalidInput (exit 2,
    nothing ran) when neither has it.
    """
    here = Path(sys.executable).parent / name
    if here.is_file() and os.access(here, os.X_OK):
        return str(here)
    found = shutil.which(name)
    if found:
        return found
    raise InvalidInput(f"{name} not found next to {sys.executable} nor on PATH: run 'make deps' "
                       "(or pip install the project into the Python that runs maintctl); 'maintctl doctor' checks it")


def run_env(req: RunRequest, run_id: str, run_dir: Path) -> dict[str, str]:
    """Return the environment of the playbook process (ansible-runner's ``envvars``).

    ``ANSIBLE_HOST_KEY_CHECKING`` is always set: ansible-runner turns host key checking off
    when the caller leaves it unset (Ansible then passes ``-o StrictHostKeyChecking=no``
    first, and OpenSSH keeps the first value it reads, whatever the inventory says).
    """
    return {
        "ANSIBLE_CONFIG": str(PROJECT_DIR / "ansible.cfg"),
        # ansible-runner prepends its own callback dir to this; keep ours found.
        "ANSIBLE_CALLBACK_PLUGINS": str(PROJECT_DIR / "plugins" / "callback"),
        "ANSIBLE_HOST_KEY_CHECKING": "True",
        "MAINT_HOME": str(maint_home()),
        "MAINT_RESULTS_FILE": str(run_dir / "results.jsonl"),
        "MAINT_CLIENT": req.client,
        "MAINT_RUN_ID": run_id,
        "ANSIBLE_RETRY_FILES_ENABLED": "False",
        # The controller's own ansible-playbook (and the tools it spawns) first, whatever PATH is.
        "PATH": os.pathsep.join([str(Path(controller_tool("ansible-playbook")).parent),
                                 os.environ.get("PATH") or "/usr/bin:/bin"]),
    }


class RunNotStarted(InvalidInput):
    """The playbook never started (no playbook_on_start event): exit 2, not recorded as a run."""


def _not_started_reason(run_dir: Path, stdout: str) -> str:
    """The last meaningful line ansible-playbook (or ansible-runner) printed, bounded."""
    text = stdout
    if not text:
        out = run_dir / "artifacts" / "ansible" / "stdout"
        text = out.read_text(encoding="utf-8", errors="replace") if out.is_file() else ""
    lines = [re.sub(r"\x1b\[[0-9;]*m", "", line).strip() for line in text.splitlines()]
    lines = [line for line in lines if line and not line.startswith(("[WARNING]", "Traceback"))]
    errors = [line for line in lines if "ERROR" in line or "error" in line.lower()]
    return ((errors or lines or ["ansible-playbook printed nothing"])[-1])[:300]


MASK = "********"


def mask_secrets(run_dir: Path, secrets_: list[str]) -> None:
    """Replace every value of ``secrets_`` by ``MASK`` in the files of ``run_dir`` (atomically).

    Longer values first, so that a value containing another is masked whole. Binary files
    and files that hold no secret are left untouched.
    """
    values = sorted({s for s in secrets_ if s}, key=len, reverse=True)
    if not values:
        return
    for path in sorted(p for p in run_dir.rglob("*") if p.is_file() and not p.is_symlink()):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        masked = text
        for value in values:
            masked = masked.replace(value, MASK)
            # job events and run.json hold JSON: a value with quotes or backslashes is escaped there
            escaped = json.dumps(value)[1:-1]
            if escaped != value:
                masked = masked.replace(escaped, MASK)
        if masked != text:
            atomic_write(path, masked)


def _run_playbook(req: RunRequest, run_id: str, run_dir: Path, playbook: str, cmdline: list[str],
                  extravars: dict[str, Any], vault: Path | None,
                  on_event: Callable[[dict[str, Any]], None] | None, interrupt: _Interrupt) -> tuple[str, int]:
    """Run the playbook here, or on ``req.worker``; return (status, rc). RuntimeError: the worker failed."""
    import ansible_runner

    env = run_env(req, run_id, run_dir)

    started = False

    def handler(event: dict[str, Any]) -> bool:
        nonlocal started
        started = started or event.get("event") == "playbook_on_start"
        if on_event:
            on_event(event)
        return True

    if req.worker:
        from . import worker

        # Paths relative to the worker's project folder (its working directory).
        env.update(ANSIBLE_CALLBACK_PLUGINS="plugins/callback",
                   MAINT_RESULTS_FILE=f"../artifacts/ansible/{worker.RESULTS_NAME}")
        del env["ANSIBLE_CONFIG"], env["PATH"]  # the worker has its own
        if os.environ.get("MAINT_TEST_NOW"):
            env["MAINT_TEST_NOW"] = os.environ["MAINT_TEST_NOW"]
        local_only = {"--vault-password-file", str(vault)} if vault else set()
        status, rc = worker.run_remote(
            req.worker, run_dir, run_dir / "results.jsonl", inventory.client_dir(req.client), f"playbooks/{playbook}",
            vault.read_text(encoding="utf-8").strip() if vault else None,
            {"limit": req.limit, "extravars": extravars, "envvars": env, "ident": "ansible",
             "cmdline": " ".join(c for c in cmdline if c not in local_only) or None},
            handler, lambda: interrupt.requested)
        if not started and not interrupt.requested:
            raise RunNotStarted(f"the playbook did not start on worker {shlex.join(req.worker)!r}: "
                                f"{_not_started_reason(run_dir, '')}")
        return status, rc
    # One module (maintctl adhoc) on the hosts of the client's inventory, after the limit; else the playbook.
    what: dict[str, Any] = {"module": req.module, "module_args": req.module_args, "host_pattern": "all"} \
        if req.module else {"playbook": str(PROJECT_DIR / "playbooks" / playbook)}
    runner = ansible_runner.run(
        private_data_dir=str(run_dir),
        project_dir=str(PROJECT_DIR),
        **what,
        inventory=str(inventory.client_dir(req.client) / "hosts.yml"),
        limit=req.limit,
        extravars=extravars,
        cmdline=" ".join(cmdline) if cmdline else None,
        envvars=env,
        quiet=True,
        event_handler=handler,
        cancel_callback=lambda: interrupt.requested,
        ident="ansible",
        rotate_artifacts=0,
    )
    if not started and not interrupt.requested:
        raise RunNotStarted(f"the playbook did not start: {_not_started_reason(run_dir, _stdout(runner))}")
    return runner.status, int(runner.rc if runner.rc is not None else 1)


def _stdout(runner: Any) -> str:
    try:
        return str(runner.stdout.read())
    except (AttributeError, OSError, ValueError):
        return ""


def playbook_options(req: RunRequest, areas: list[str], vault: Path | None) -> list[str]:
    """Return ansible-playbook's options for this run: check mode, the client's vault, the areas' tags."""
    cmdline = []
    if req.check:
        cmdline.append("--check")
    if vault:
        cmdline += ["--vault-password-file", str(vault)]
    if len(areas) > 1 and areas != list(AREAS):
        cmdline += ["--tags", ",".join(areas)]
    return cmdline


def execute(req: RunRequest, store: Store, on_event: Callable[[dict[str, Any]], None] | None = None,
            on_start: Callable[[str, Path, list[str]], None] | None = None) -> RunOutcome:
    """Validate, lock, run and record one run. Raises MaintError subclasses for exit 2 and 4."""
    pol = policy.require_valid(req.client)  # read and validated once
    if req.worker is None and pol.get("worker"):
        from . import worker

        req.worker = worker.parse_worker(pol["worker"])
    if req.adhoc is not None and req.worker:
        raise InvalidInput(f"client {req.client!r} runs on a worker ({shlex.join(req.worker)}): ad hoc playbooks "
                           "and modules run on this controller only")
    vault = policy.vault_password_file(req.client)
    hosts = policy.run_hosts(req.client, req.limit, vault)
    areas = [] if req.adhoc is not None else available_areas(req.areas or list(AREAS))
    if not areas and req.adhoc is None:
        raise InvalidInput(f"none of the areas {', '.join(req.areas)} has a playbook in this tree")
    now = maint_clock.now()
    delta = maint_clock.offset()
    installs = "patch" in areas and not req.check and not req.scan_only
    wvars = window_vars(pol, req, installs, now)

    lock = exclusive_lock(req.lock_name, f"{req.kind} of client {req.client!r} is locked by {{holder}}") \
        if req.kind in SUPERVISION_KINDS else client_lock(req.client)
    with lock, _Interrupt() as interrupt:
        recover_stale_runs(store, req.client, pol, req.kind if req.kind in SUPERVISION_KINDS else "run")
        run_id = new_run_id(now)
        run_dir = ensure_dir(maint_home() / "runs" / req.client / run_id)
        results_file = run_dir / "results.jsonl"
        playbook = req.playbook or req.module or ("maintenance.yml" if len(areas) > 1 else playbook_of(areas[0]))
        cmdline = playbook_options(req, areas, vault)
        extravars = {
            "maint_client": req.client, "maint_run_id": run_id, "maint_check_mode": req.check,
            **req.role_vars, "patch_install": installs, **wvars, **req.extravars,
        }
        meta = {"run_id": run_id, "client": req.client, "kind": req.kind,
                "areas": req.kind if req.kind in SUPERVISION_KINDS else ",".join(areas) or "adhoc",
                "limit_hosts": req.limit, "check_mode": req.check, "started": maint_clock.to_iso(now),
                "hosts_total": len(hosts), "run_dir": str(run_dir), "resume_of": req.resume,
                "worker": shlex.join(req.worker) if req.worker else None}
        if req.adhoc is not None:
            meta["adhoc"] = req.adhoc
        atomic_write_json(run_dir / "run.json", meta)
        store.start_run(meta)
        if on_start:
            on_start(run_id, run_dir, hosts)
        status, rc = "failed", 1
        remote_error = ""
        not_started: RunNotStarted | None = None
        try:
            status, rc = _run_playbook(req, run_id, run_dir, playbook, cmdline, extravars, vault, on_event, interrupt)
        except RuntimeError as exc:
            remote_error = str(exc)
        except RunNotStarted as exc:
            not_started = exc
        finally:
            # However the run ended, keep every result already collected (and no secret of an ad hoc run).
            mask_secrets(run_dir, req.mask)
            results = finalize_results(read_results(results_file), pol, delta)
            if not_started is not None and not results:
                # Nothing ran: not a run with 0 results, but an error (exit 2) and no trace in the store.
                store.forget_run(run_id)
                shutil.rmtree(run_dir, ignore_errors=True)
                raise not_started
            record_results(store, req, meta, results, pol)
            if interrupt.requested:
                status = "canceled"
            code = exit_code_for(status, results, rc)
            final = {"successful": "completed", "canceled": "interrupted"}.get(status, "failed")
            if code == EXIT_INTERRUPTED:
                final = "interrupted"
            store.finish_run(run_id, final, code, maint_clock.to_iso(maint_clock.now()))
            scrub_artifacts(run_dir)
        if remote_error and not interrupt.requested:
            raise MaintError(f"run {run_id} on worker {shlex.join(req.worker or [])!r} failed: {remote_error}")
        return RunOutcome(run_id, run_dir, final, code, results, hosts)
