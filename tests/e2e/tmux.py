"""Drive trajscope in a real terminal: a tmux session, keys in, the screen read back."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import time
import uuid

import pytest


class Terminal:
    def __init__(self, command: list[str], width: int = 140, height: int = 40, env: dict | None = None):
        if shutil.which("tmux") is None:
            pytest.fail("tmux is needed for the end-to-end terminal tests (apt-get install tmux)")
        self.name = f"ts-{uuid.uuid4().hex[:8]}"
        exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in (env or {}).items())
        line = f"{exports} {shlex.join(command)}; echo EXIT=$?; sleep 600"
        subprocess.run(
            ["tmux", "new-session", "-d", "-s", self.name, "-x", str(width), "-y", str(height), line], check=True
        )

    def screen(self) -> str:
        return subprocess.run(
            ["tmux", "capture-pane", "-p", "-J", "-S", "-200", "-t", self.name], capture_output=True, text=True
        ).stdout

    def wait_for(self, text: str, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen()
            if text in screen:
                return screen
            time.sleep(0.2)
        raise AssertionError(f"{text!r} did not appear in {timeout:g} s; the screen:\n{self.screen()}")

    def wait_for_match(self, pattern: str, timeout: float = 30.0) -> re.Match:
        """Like ``wait_for``, for a regular expression: a counter may pass a value between two looks."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = re.search(pattern, self.screen())
            if found:
                return found
            time.sleep(0.2)
        raise AssertionError(f"{pattern!r} did not match in {timeout:g} s; the screen:\n{self.screen()}")

    def press(self, *keys: str) -> None:
        subprocess.run(["tmux", "send-keys", "-t", self.name, *keys], check=True)

    def close(self) -> None:
        subprocess.run(["tmux", "kill-session", "-t", self.name], capture_output=True)

    def __enter__(self) -> Terminal:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
