"""Send a run to another machine with ansible-runner's ``transmit | worker | process`` streaming.

This is the mechanism AWX and receptor use, not a home-made one. ``maintctl run --worker CMD``:

1. stages a private data dir in a private temporary folder: the project (``ansible.cfg``,
   ``playbooks/``, ``roles/``, ``plugins/``: Ansible content only, the window filter loads its
   code from ``plugins/module_utils``) and the client's inventory folder, nothing else of the tree;
2. ``transmit`` streams it, with the run's options, into the stdin of ``CMD``, an argument list
   such as ``ssh -T maint@site-b ansible-runner worker --delete`` (never a shell);
3. ``process`` reads the worker's stdout as it comes: the events drive the progress and, as each
   arrives, :class:`ResultStream` hands it to the project's own collector callback, which appends
   and flushes its results to the run's ``results.jsonl`` (a controller killed with SIGKILL keeps
   what it had received, as in a local run); the worker's artifacts land in the run folder at the
   end, and the results the worker's collector wrote there replace the streamed ones (the same
   results, with the worker's clocks), nothing twice.

The vault password goes through ansible-runner's ``passwords`` (the answer to ansible's
``--ask-vault-pass`` prompt) inside the stream, never in a file of the run folder. The staged
folder, which holds it while ``transmit`` runs, is deleted as soon as the stream is sent.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from maintcore.config import PROJECT_DIR, atomic_write
from maintcore.errors import InvalidInput

# What a worker needs of the tree: the Ansible project only (the maint_window filter and the
# collector load their pure Python from plugins/module_utils; nothing of the orchestrator runs there).
STAGED = ("ansible.cfg", "playbooks", "roles", "plugins")
_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "molecule", ".pytest_cache")
# Relative to the worker's project folder, the working directory of ansible-playbook there:
# the collector writes into the artifacts, which the worker streams back at the end.
RESULTS_NAME = "maint_results.jsonl"
VAULT_PROMPT = r"^Vault password:\s*?$"
COLLECTOR = PROJECT_DIR / "plugins" / "callback" / "maint_collector.py"


def parse_worker(text: str | None) -> list[str] | None:
    """Split ``--worker`` into an argument list (exit 2 when empty or unbalanced)."""
    if text is None:
        return None
    try:
        argv = shlex.split(text)
    except ValueError as exc:
        raise InvalidInput(f"--worker {text!r}: {exc}") from None
    if not argv:
        raise InvalidInput("--worker: empty command; e.g. 'ssh -T maint@site-b ansible-runner worker --delete'")
    return argv


def stage(folder: Path, inventory_dir: Path) -> None:
    """Fill ``folder`` with the private data dir a worker needs.

    A symlink is followed only when its target stays inside the folder being staged
    (``roles/``, ``plugins/``, ..., or the client's inventory folder): one that leads
    elsewhere (another client's vault password, ``~/.ssh``) is refused with InvalidInput,
    before anything is copied.
    """
    sources = [(PROJECT_DIR / item, folder / "project" / item) for item in STAGED]
    sources.append((inventory_dir, folder / "inventory"))
    for source, _ in sources:
        check_links(source)
    for source, target in sources:
        if source.is_dir():
            shutil.copytree(source, target, ignore=_IGNORE)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


def check_links(source: Path) -> None:
    """Raise InvalidInput for a symlink under ``source`` whose target leaves ``source``.

    ``source`` is a folder to stage (its own path may be a symlink), or a file of the
    project, which may be a symlink within the project only.
    """
    if not source.is_dir():
        if source.is_symlink():
            _check_link(source, PROJECT_DIR.resolve())
        return
    root = source.resolve()
    for top, dirs, files in os.walk(source):
        for name in dirs + files:
            path = Path(top) / name
            if path.is_symlink():
                _check_link(path, root)


def _check_link(link: Path, root: Path) -> None:
    try:
        target = link.resolve(strict=False)
    except (OSError, RuntimeError):
        raise InvalidInput(f"{link}: symlink loop: not sent to the worker") from None
    if target != root and root not in target.parents:
        raise InvalidInput(f"{link}: symlink to {target}, outside {root}: not sent to the worker "
                           "(copy the file into the folder instead)")
    if not target.exists():
        raise InvalidInput(f"{link}: symlink to {target}, which does not exist: not sent to the worker")
    here = link.parent.resolve()
    if target.is_dir() and (here == target or target in here.parents):
        raise InvalidInput(f"{link}: symlink to its own parent folder {target}: not sent to the worker")


def run_remote(worker: list[str], run_dir: Path, results_file: Path, inventory_dir: Path, playbook: str,
               vault_password: str | None, options: dict[str, Any], event_handler: Callable[[dict[str, Any]], bool],
               cancelled: Callable[[], bool]) -> tuple[str, int]:
    """Run one playbook on a worker; return (status, rc). The results it returns go to ``results_file``.

    ``options`` holds the ansible-runner options shared with local runs (extravars,
    cmdline, envvars, limit, ident). Raises RuntimeError with one line when the worker
    does not answer with a stream.
    """
    import ansible_runner

    kwargs = dict(options)
    if vault_password is not None:
        kwargs["cmdline"] = " ".join(filter(None, [kwargs.get("cmdline"), "--ask-vault-pass"]))
        kwargs["passwords"] = {VAULT_PROMPT: vault_password}
    with tempfile.TemporaryFile() as errors:
        try:
            proc = subprocess.Popen(worker, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors,
                                    env=worker_environment())
        except OSError as exc:
            raise RuntimeError(f"worker command {worker[0]!r} cannot start: {exc.strerror}") from None
        assert proc.stdin is not None and proc.stdout is not None
        try:
            try:
                with tempfile.TemporaryDirectory(prefix="maint-transmit-") as tmp:
                    staged = Path(tmp)
                    stage(staged, inventory_dir)
                    # cancel_callback also keeps ansible-runner from replacing maintctl's signal handlers.
                    ansible_runner.run(private_data_dir=str(staged), playbook=playbook, streamer="transmit",
                                       _output=proc.stdin, cancel_callback=cancelled, **kwargs)
                proc.stdin.close()
            except OSError as exc:  # BrokenPipeError: the worker did not take the job
                why = f"the worker did not take the job ({exc.strerror})"
                raise RuntimeError(_worker_failure(proc, errors, why)) from None
            stop = threading.Event()
            threading.Thread(target=_cancel_watch, args=(proc, cancelled, stop), daemon=True).start()
            last: dict[str, Any] = {}
            envvars = kwargs.get("envvars") or {}
            stream = ResultStream(results_file, str(envvars.get("MAINT_CLIENT", "adhoc")),
                                  str(envvars.get("MAINT_RUN_ID", "adhoc")))

            def on_event(event: dict[str, Any]) -> bool:
                try:
                    stream.feed(event)
                except Exception as exc:  # noqa: BLE001 - as Ansible treats a failing callback: warn, go on
                    print(f"maintctl: warning: an event of the worker was not collected: {type(exc).__name__}: "
                          f"{str(exc)[:200]}", file=sys.stderr)
                return event_handler(event)

            try:
                runner = ansible_runner.run(private_data_dir=str(run_dir), streamer="process", _input=proc.stdout,
                                            ident=kwargs.get("ident"), quiet=True, event_handler=on_event,
                                            cancel_callback=cancelled,
                                            status_handler=lambda data, runner_config: last.update(data))
            finally:
                stop.set()
                stream.finish(run_dir / "artifacts" / str(kwargs.get("ident")) / RESULTS_NAME)
            code = proc.wait()
            status = runner.status
            if status in ("error", "unstarted", None) or not last:
                why = last.get("job_explanation") or f"the worker exited {code} without a result"
                raise RuntimeError(_worker_failure(proc, errors, str(why).splitlines()[0][:300]))
            rc_file = run_dir / "artifacts" / str(kwargs.get("ident")) / "rc"
            rc = int(rc_file.read_text().strip()) if rc_file.exists() else (0 if status == "successful" else 1)
            return str(status), rc
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def worker_environment() -> dict[str, str]:
    """The worker command's environment: this one without Ansible's and maintctl's settings.

    Everything the run needs travels in the stream (``envvars``); a worker started on this
    machine must not pick up the controller's ``ANSIBLE_ROLES_PATH`` or ``ANSIBLE_CONFIG``
    and run the controller's tree instead of the one it was sent.
    """
    return {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "MAINT_"))}


def _cancel_watch(proc: subprocess.Popen[bytes], cancelled: Callable[[], bool], stop: threading.Event) -> None:
    """Stop the worker when the run is interrupted (the worker side then cancels its playbook)."""
    while not stop.wait(0.5):
        if cancelled():
            proc.terminate()
            return


def _worker_failure(proc: subprocess.Popen[bytes], errors: Any, what: str) -> str:
    if proc.poll() is None:
        proc.kill()
    proc.wait()
    errors.seek(0)
    lines = [line.strip() for line in errors.read().decode("utf-8", "replace").splitlines() if line.strip()]
    return f"{what}: {lines[-1][:300]}" if lines else what


def _load_collector() -> Any:
    """The project's collector callback module, loaded by its path (as Ansible loads it)."""
    spec = importlib.util.spec_from_file_location("maint_collector_stream", COLLECTOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass
class _Named:
    name: str

    def get_name(self) -> str:
        return self.name


@dataclass
class _TaskResult:
    """What the collector reads of Ansible's TaskResult, rebuilt from one event's event_data."""

    _host: _Named
    _task: _Named
    _result: dict[str, Any]


@dataclass
class _Stats:
    """What the collector reads of Ansible's AggregateStats, from a playbook_on_stats event."""

    data: dict[str, Any]
    processed: dict[str, Any] = field(init=False)

    def __post_init__(self) -> None:
        self.processed = dict(self.data.get("processed") or {})

    def summarize(self, host: str) -> dict[str, int]:
        keys = {"ok": "ok", "failures": "failures", "unreachable": "dark", "changed": "changed",
                "skipped": "skipped", "rescued": "rescued", "ignored": "ignored"}
        return {name: int((self.data.get(key) or {}).get(host, 0) or 0) for name, key in keys.items()}


def _key(record: dict[str, Any]) -> tuple[str, str, str]:
    return str(record.get("host")), str(record.get("check")), str(record.get("item"))


def _records(text: str) -> list[tuple[str, dict[str, Any]]]:
    """(line, record) for each whole result line of a results file; a cut or foreign line is left out."""
    out = []
    for line in text.splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict) and record.get("check") and record.get("status"):
            out.append((line, record))
    return out


class ResultStream:
    """The collector's results of a worker run, written to ``results.jsonl`` as the events stream in.

    Each event from ``ansible-runner process`` goes through the project's own collector callback
    (``plugins/callback/maint_collector.py``): ``runner_on_ok`` and ``runner_on_failed`` carry the
    task's result (its ``maint_results``) in ``event_data.res``, ``runner_on_unreachable`` the
    connection error, ``playbook_on_stats`` the hosts that answered. The collector validates them
    and appends and flushes its records at once, exactly as in a local run. A task the worker
    hid (``no_log``) arrives censored and is read as hidden, as the collector reads it locally.
    """

    def __init__(self, results_file: Path, client: str, run_id: str) -> None:
        self.results_file = results_file
        self.collector = _load_collector().CallbackModule()
        # What set_options gives the collector in a local run (MAINT_RESULTS_FILE, MAINT_CLIENT, MAINT_RUN_ID).
        self.collector._path = str(results_file)
        self.collector._client = client
        self.collector._run_id = run_id
        self.events = 0

    def feed(self, event: dict[str, Any]) -> None:
        """Hand one streamed event to the collector (events it does not read are ignored)."""
        kind = event.get("event")
        data = event.get("event_data") or {}
        if not isinstance(data, dict):
            return
        self.events += 1
        if kind == "playbook_on_stats":
            self.collector.v2_playbook_on_stats(_Stats(data))
            return
        hook = {"runner_on_ok": self.collector.v2_runner_on_ok,
                "runner_on_failed": self.collector.v2_runner_on_failed,
                "runner_on_unreachable": self.collector.v2_runner_on_unreachable}.get(str(kind))
        if hook is None or not data.get("host"):
            return
        raw = data.get("res")
        res: dict[str, Any] = raw if isinstance(raw, dict) else {}
        if "censored" in res:  # awx_display's form of a no_log result
            res = {"_ansible_no_log": True}
        result = _TaskResult(_Named(str(data["host"])), _Named(str(data.get("task") or "")), dict(res))
        if kind == "runner_on_failed":
            hook(result, ignore_errors=bool(data.get("ignore_errors")))
        else:
            hook(result)

    def finish(self, returned: Path) -> None:
        """Replace the streamed results by those the worker's collector wrote, when they came back.

        The worker's file (``returned``, in the artifacts streamed at the end) holds the same
        results with the worker's own clock on the ones the collector makes (``run.reachability``);
        a streamed result whose host, check and item the worker's file lacks (a cut file) is kept.
        ``returned`` is removed: every result is in ``results.jsonl`` once.
        """
        if not returned.is_file():
            return
        worker = _records(returned.read_text(encoding="utf-8", errors="replace"))
        streamed = _records(self.results_file.read_text(encoding="utf-8", errors="replace")) \
            if self.results_file.is_file() else []
        known = {_key(record) for _, record in worker}
        lines = [line for line, _ in worker] + [line for line, record in streamed if _key(record) not in known]
        atomic_write(self.results_file, "".join(line + "\n" for line in lines))
        returned.unlink()
