"""Start the whole stack (Rasa, action server, handoff API, gateway) for end-to-end tests."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.support.ports import free_port
from youthlink.crypto import new_key

REPO = Path(__file__).resolve().parents[2]
APP_BIN = REPO / ".venv" / "bin"
RASA_BIN = REPO / ".venv-rasa" / "bin"
MODEL = REPO / "models" / "youthlink.tar.gz"


def stack_env(workdir: Path, ports: Mapping[str, int], **extra: str) -> dict[str, str]:
    """Environment for every process of a test stack: fresh keys, its own database and ports."""
    env = dict(os.environ)
    env.update(
        {
            "PYTHONPATH": str(REPO),
            "SANIC_HOST": "127.0.0.1",  # the action server listens on localhost only
            "YOUTHLINK_ENV": "development",
            "YOUTHLINK_DATABASE_URL": f"sqlite:///{workdir / 'youthlink.db'}",
            "YOUTHLINK_TRACKER_DB_URL": f"sqlite:///{workdir / 'tracker.db'}",
            "YOUTHLINK_ENCRYPTION_KEYS": new_key(),
            "YOUTHLINK_HASH_KEY": secrets.token_urlsafe(32),
            "YOUTHLINK_SERVICE_TOKEN": secrets.token_urlsafe(32),
            "YOUTHLINK_LOCAL_TOKEN": secrets.token_urlsafe(32),
            "YOUTHLINK_RASA_TOKEN": secrets.token_urlsafe(32),
            "YOUTHLINK_SECRET_KEY": secrets.token_urlsafe(32),
            "YOUTHLINK_RASA_URL": f"http://127.0.0.1:{ports['rasa']}",
            "YOUTHLINK_HANDOFF_URL": f"http://127.0.0.1:{ports['handoff']}",
            "YOUTHLINK_GATEWAY_URL": f"http://127.0.0.1:{ports['gateway']}",
            "YOUTHLINK_ACTIONS_URL": f"http://127.0.0.1:{ports['actions']}",
        }
    )
    env.update(extra)
    return env


def cpu_seconds(*pids: int) -> float:
    """User plus system CPU time of these processes so far (Linux); gone ones count nothing."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def process_tree(pid: int) -> list[int]:
    """A process and all its descendants (Rasa's Sanic workers are children of the first)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


@dataclass
class Stack:
    """A running stack; processes can be stopped and started again to test outages."""

    workdir: Path
    ports: dict[str, int]
    env: dict[str, str]
    debug: bool = False
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def command(self, name: str) -> list[str]:
        port = str(self.ports[name])
        if name == "rasa":
            return [
                str(RASA_BIN / "rasa"), "run", "--model", str(MODEL),
                "--endpoints", str(self.workdir / "endpoints.yml"),
                "--credentials", str(REPO / "bot" / "credentials.yml"),
                # "=": a random token may start with "-", which argparse would read as an option.
                "--enable-api", f"--auth-token={self.env['YOUTHLINK_RASA_TOKEN']}",
                "--interface", "127.0.0.1", "--port", port,
                "--logging-config-file", str(REPO / "bot" / "logging.yml"),
                *(["--debug"] if self.debug else []),
            ]  # fmt: skip
        if name == "actions":
            return [
                str(RASA_BIN / "python"), "-m", "rasa_sdk", "--actions", "actions", "-p", port,
                # (sic: rasa-sdk spells this option with an underscore)
                "--logging-config_file", str(REPO / "bot" / "logging.yml"),
                *(["-vv"] if self.debug else []),
            ]  # fmt: skip
        return [str(APP_BIN / "youthlink"), "serve", name, "--host", "127.0.0.1", "--port", port]

    def health_url(self, name: str) -> str:
        if name == "rasa":
            return f"{self.url('rasa')}/status?token={self.env['YOUTHLINK_RASA_TOKEN']}"
        if name == "actions":
            return f"{self.url('actions')}/health"
        return f"{self.url(name)}/healthz"

    def start(self, name: str) -> None:
        log = (self.workdir / f"{name}.log").open("ab")
        # A process group of its own, so that stopping it stops what it started too (Rasa's
        # Sanic workers are child processes).
        self.processes[name] = subprocess.Popen(
            self.command(name), cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip

    def stop(self, name: str) -> None:
        proc = self.processes.pop(name, None)
        if proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=20)
        # Whatever of the group is still there (a worker that ignored the signal) is killed.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()

    def wait_ready(self, name: str, timeout: float = 240.0) -> None:
        deadline = time.monotonic() + timeout
        url = self.health_url(name)
        while time.monotonic() < deadline:
            proc = self.processes.get(name)
            if proc is not None and proc.poll() is not None:
                tail = self.log_tail(name)
                raise RuntimeError(f"{name} exited with {proc.returncode}; its log ends:\n{tail}")
            with contextlib.suppress(httpx.HTTPError):
                response = httpx.get(url, timeout=2.0)
                if response.status_code == 200:
                    return
            time.sleep(0.5)
        raise TimeoutError(f"{name} not ready after {timeout:.0f}s; see {self.log(name)}")

    def log(self, name: str) -> Path:
        return self.workdir / f"{name}.log"

    def log_tail(self, name: str, lines: int = 40) -> str:
        """The last lines a process wrote (the workdir may be gone once the error is read)."""
        try:
            text = self.log(name).read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def stop_all(self) -> None:
        for name in list(self.processes):
            self.stop(name)


def write_endpoints(
    workdir: Path, actions_url: str, extra: Mapping[str, Any] | None = None
) -> None:
    """The repo's endpoints.yml, pointed at this stack's action server (plus `extra` sections,
    a Redis lock store say)."""
    endpoints = yaml.safe_load((REPO / "bot" / "endpoints.yml").read_text(encoding="utf-8")) or {}
    endpoints["action_endpoint"] = {"url": f"{actions_url}/webhook"}
    endpoints.update(extra or {})
    (workdir / "endpoints.yml").write_text(yaml.safe_dump(endpoints), encoding="utf-8")


@contextlib.contextmanager
def running_stack(
    workdir: Path,
    *,
    debug: bool = False,
    endpoints: Mapping[str, Any] | None = None,
    **extra_env: str,
) -> Iterator[Stack]:
    """Migrate a fresh database and start all four processes; stop them all afterwards.

    With `debug`, every process logs at DEBUG (to files in `workdir`), as the log test needs.
    """
    ports = {name: free_port() for name in ("rasa", "actions", "handoff", "gateway")}
    if debug:
        extra_env.setdefault("YOUTHLINK_LOG_LEVEL", "DEBUG")
    env = stack_env(workdir, ports, **extra_env)
    write_endpoints(workdir, env["YOUTHLINK_ACTIONS_URL"], endpoints)
    subprocess.run([str(APP_BIN / "youthlink"), "db", "upgrade"], cwd=REPO, env=env, check=True)
    stack = Stack(workdir=workdir, ports=ports, env=env, debug=debug)
    try:
        for name in ("actions", "handoff", "gateway", "rasa"):
            stack.start(name)
        for name in ("actions", "handoff", "gateway", "rasa"):
            stack.wait_ready(name)
        yield stack
    finally:
        stack.stop_all()


def play_script(stack: Stack, path: Path) -> dict[str, dict[str, Any]]:
    """Run `youthlink chat --script path` against the stack; each conversation's outcome by id."""
    result = subprocess.run(
        [str(APP_BIN / "youthlink"), "chat", "--script", str(path)],
        cwd=REPO, env=stack.env, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    return {line["id"]: line for line in lines}
