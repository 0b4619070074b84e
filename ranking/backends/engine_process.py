"""Run an engine server as its own process group, wait for health, stop the whole group (tests, benches)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

import httpx

from ranking.backends.engine_command import EngineCommand


class EngineProcess:
    """One engine server started with `start_new_session`, so stop() can signal all its children."""

    def __init__(self, command: EngineCommand, base_url: str, log_path: Path, health_path: str = "/health"):
        self.command = command
        self.base_url = base_url.rstrip("/")
        self.log_path = log_path
        self.health_path = health_path
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    def start(self, timeout_s: float = 240.0) -> EngineProcess:
        """Launch and block until the health endpoint answers 200; raises with the log tail on failure."""
        for key in ("VLLM_CACHE_ROOT", "TMPDIR"):
            if key in self.command.env:
                Path(self.command.env[key]).mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **self.command.env}
        with self.log_path.open("wb") as log:
            self._proc = subprocess.Popen(
                self.command.argv, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"engine exited with {self._proc.returncode}:\n{self.log_tail()}")
            if self.is_healthy():
                return self
            time.sleep(1.0)
        self.stop()
        raise TimeoutError(f"engine not healthy after {timeout_s:.0f}s:\n{self.log_tail()}")

    def is_healthy(self) -> bool:
        try:
            return httpx.get(self.base_url + self.health_path, timeout=2.0, trust_env=False).status_code == 200
        except httpx.HTTPError:
            return False

    def kill(self) -> None:
        """SIGKILL the whole group at once: a replica dying under load."""
        if self._proc is not None and self._proc.poll() is None:
            os.killpg(self._proc.pid, signal.SIGKILL)
            self._proc.wait(timeout=10)

    def stop(self, grace_s: float = 15.0) -> None:
        """SIGTERM the group, SIGKILL what is left after `grace_s`."""
        if self._proc is None:
            return
        try:
            os.killpg(self._proc.pid, signal.SIGTERM)
            self._proc.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            os.killpg(self._proc.pid, signal.SIGKILL)
            self._proc.wait(timeout=10)
        except ProcessLookupError:
            pass
        # children (EngineCore, Worker) may outlive the leader: sweep the group
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._proc.pid, signal.SIGKILL)

    def log_tail(self, num_lines: int = 30) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(lines[-num_lines:])
