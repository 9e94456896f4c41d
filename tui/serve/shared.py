"""The one search a served demo or search shares, started when its first viewer arrives.

A search started with the server had finished before anyone opened the page; so the search
starts for the first viewer, and a viewer who arrives when nobody is watching and the last
search has ended (its budget spent, failed or stopped) gets a new one, in a new log. Viewers
who arrive while it runs, or while someone still watches a finished one, join it. Each search
has its own control sockets (engine/batch/control.py); a viewer's command names the current ones.
"""

from __future__ import annotations

import shlex
import sys
import threading
import time
from collections.abc import Callable

ENDED = ("finished", "failed", "stopped")
START_S = 60.0  # how long a viewer waits for the search to be built (the PRM loaded, a sandbox made)


class SharedSearch:
    """``make_worker()`` gives a new, unstarted SearchWorker with its own log each time it is called."""

    def __init__(self, make_worker: Callable[[], object], read_only: bool, say: Callable[[str], None]) -> None:
        self.make_worker, self.read_only, self.say = make_worker, read_only, say
        self.worker = None
        self.control = None
        self.started = 0  # searches started so far
        self._lock = threading.Lock()

    def viewer_command(self, watching: int) -> str:
        """The command that runs a viewer of the current search (``watching``: viewers already
        there), starting the search first when there is none, or a new one when the last has
        ended and nobody watches it. Blocks while a search is being built: call it off the loop."""
        with self._lock:
            if self.worker is None or (watching == 0 and self.worker.state in ENDED):
                self._start()
            worker, control = self.worker, self.control
        sock = control.status if self.read_only else control.control
        return (
            f"{shlex.quote(sys.executable)} -m trajscope.tui.serve.attach {shlex.quote(str(worker.log))}"
            f" --socket {shlex.quote(str(sock))} --name {shlex.quote(worker.spec['name'])}"
            + (" --read-only" if self.read_only else "")
        )

    def _start(self) -> None:
        from trajscope.engine.batch.control import ControlServer

        if self.worker is not None:
            result = self._stop("a new viewer arrived after it ended")
            self.say(
                "the last search had ended and nobody watched it: a new one starts for the new viewer"
                + (f" (the last: {result['log']})" if result else "")
            )
        worker = self.make_worker()
        worker.start()
        deadline = time.monotonic() + START_S
        while worker.state == "starting" and time.monotonic() < deadline:
            time.sleep(0.05)
        self.worker, self.control = worker, ControlServer(worker)  # a failed start is shown to the viewer
        self.started += 1
        self.say(
            f"a viewer arrived: the search of {worker.spec['name']} is {worker.state}, log {worker.log}"
            + (f" ({worker.error})" if worker.error else "")
        )

    def _stop(self, reason: str) -> dict | None:
        worker, control = self.worker, self.control
        self.worker = self.control = None
        if control is not None:
            control.close()
        worker.close(reason)
        result = worker.result
        worker.dispose()
        return result

    def close(self) -> dict | None:
        """Stop the search (its sandboxes removed, its log ended); what `trajscope search` would
        print of it (``launch.result_json``), or None when no search was started or built."""
        with self._lock:
            return self._stop("the server stopped") if self.worker is not None else None
