"""A batch's worker processes start while the app runs.

Textual redirects ``sys.stderr`` to an object whose ``fileno()`` is -1 while an app runs, and
multiprocessing's resource tracker, started by the first worker process, hands ``sys.stderr``'s
descriptor to its own process: -1 made every search of ``trajscope batch`` fail at once with
"ValueError: bad value(s) in fds_to_keep" whenever the first worker started after the fleet
screen did (and the fleet test failed in CI). The executor starts the tracker where it is made.
Each check runs in a fresh interpreter: a process whose tracker an earlier test started would
pass it by chance."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent(
    """
    import asyncio, sys, threading
    from textual.app import App
    from trajscope.engine.batch.executors import LocalExecutor

    executor = LocalExecutor(1)  # made before the app, as `trajscope batch` makes it
    outcome = {}

    def spawn():
        try:
            handle = executor.spawn({"name": "probe"})
            outcome["pid"] = handle.process.pid
            handle.kill()
        except Exception as exc:
            outcome["error"] = f"{type(exc).__name__}: {exc}"

    class Screenful(App):
        async def on_mount(self):
            assert sys.stderr.fileno() == -1  # Textual's capture, as in the real app
            thread = threading.Thread(target=spawn)
            thread.start()
            await asyncio.to_thread(thread.join)
            self.exit()

    async def main():
        async with Screenful().run_test() as pilot:
            await pilot.pause(0.1)

    asyncio.run(main())
    print(outcome)
    sys.exit(0 if "pid" in outcome else 1)
    """
)


@pytest.mark.subprocess
def test_a_worker_process_starts_while_the_app_has_stderr():
    proc = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
