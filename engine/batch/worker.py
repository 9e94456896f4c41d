"""One search of a batch, wherever it runs: a worker process here, or a Ray actor on a node.

The worker runs an ordinary Session (the same as ``trajscope search``) with its run log on
its own machine, and answers the driver, which pulls the log's new bytes (``read``) and
appends them, unchanged, to its own copy: the driver's file is a normal run log. After a
restart (Ray restarts an actor whose node died; the local executor restarts a dead process)
the driver gives the new worker the log it holds (``start(prefix)``) and the search goes on
from there, as ``--resume`` does: at most the steps in flight are lost.
"""

from __future__ import annotations

import inspect
import os
import shutil
import socket
import tempfile
import threading
import time
import uuid
from pathlib import Path

from trajscope.engine.files import safe_name
from trajscope.engine.search.commands import PERSON_COMMANDS  # nothing else is callable remotely

READ_LIMIT = 1 << 20  # bytes of log one read returns at most (whole lines)
MAX_ANSWER = 1000  # characters of a command's error answer


class SearchWorker:
    """A search, started on demand, with its log and state readable by the driver."""

    def __init__(self, spec: dict) -> None:
        self.spec = spec  # {"name", "task", "instance", "search": SearchSpec JSON, "run"?, "log"?, "close_when_done"?}
        self.incarnation = uuid.uuid4().hex
        self.dir = Path(tempfile.mkdtemp(prefix="trajscope-batch-"))
        # the log: the worker's own copy (a batch), or where it is asked to be (a served search)
        # named after the run (its events' ``run`` is the log's name): a folder of batch logs must
        # not list every run as "run"
        self.log = Path(spec["log"]) if spec.get("log") else self.dir / f"{safe_name(spec.get('run') or 'run')}.jsonl"
        self.session = None
        self.state = "idle"  # idle, starting, running, finished, failed, stopped
        self.error = ""
        self.result: dict | None = None
        self.started_at = 0.0
        self._choose = None
        self._select = "prm"
        self._lock = threading.Lock()

    # -- driver calls -------------------------------------------------------------------
    def start(self, prefix: bytes = b"") -> dict:
        """Start the search, first writing ``prefix`` (the log so far) to go on from it."""
        with self._lock:
            if self.state != "idle":
                return self.status()
            self.state = "starting"
            if prefix or not self.log.exists():
                from trajscope.engine.files import replace_file

                replace_file(self.log, prefix)  # whole, never through a link
        threading.Thread(target=self._run, name="trajscope-batch-search", daemon=True).start()
        return self.status()

    def read(self, offset: int, limit: int = READ_LIMIT) -> dict:
        """The log's whole lines from ``offset`` (at most ``limit`` bytes) and the status."""
        data = b""
        try:
            with open(self.log, "rb") as fh:
                fh.seek(offset)
                chunk = fh.read(max(1, min(limit, READ_LIMIT)))
            data = chunk[: chunk.rfind(b"\n") + 1]
        except FileNotFoundError:
            pass
        return {"incarnation": self.incarnation, "data": data, "status": self.status()}

    def command(self, name: str, args: list, kwargs: dict) -> str | None:
        """Run a person's command on the search; the reason when it cannot, else None."""
        if name not in PERSON_COMMANDS:
            return f"{name} is not a command"
        session = self.session
        open_after_end = self.state == "finished" and not self.spec.get("close_when_done", True)
        if session is None or (self.state != "running" and not open_after_end):
            return f"the search is {self.state}" + (
                " (a batch closes a search when it ends)" if self.state == "finished" else ""
            )
        method = getattr(session.commands, name)
        try:  # only the arguments the command takes; their values are checked by the command itself
            inspect.signature(method).bind(*args, **kwargs)
        except TypeError:
            return f"{name} takes ({', '.join(inspect.signature(method).parameters)})"
        try:
            method(*args, **kwargs)
        except (KeyError, ValueError, RuntimeError, TypeError) as exc:
            return str(exc.args[0] if exc.args else exc)[:MAX_ANSWER]
        except Exception as exc:  # noqa: BLE001 - the caller (a socket, a driver) gets an answer, always
            return f"{name} failed: {type(exc).__name__}: {exc}"[:MAX_ANSWER]
        return None

    def close(self, reason: str = "stopped") -> dict:
        """Stop the search: its sandboxes are removed and its log ends (``run_finished``), for
        the driver to pull before ``dispose``."""
        with self._lock:
            session = self.session
            previous = self.state
            if self.state in ("idle", "starting", "running"):
                self.state = "stopped"
        if session is not None:
            session.close(reason)
            if self.result is None and self._choose is not None:
                self.result = self._result(session)
        return {"state": previous}

    def dispose(self) -> None:
        """Delete the worker's copy of the log (the driver has it)."""
        self.close("stopped")
        shutil.rmtree(self.dir, ignore_errors=True)

    def status(self) -> dict:
        session = self.session
        out = {
            "state": self.state,
            "error": self.error,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "node": _ray_node(),
            "result": self.result,
            "wall_s": round(time.monotonic() - self.started_at, 3) if self.started_at else 0.0,
        }
        if session is not None:
            budget = session.budget
            out |= {
                "paused": session.paused,
                "busy": session.busy,
                "workers": session.workers,
                "phase": session.phase,
                "finished": session.finished,
                "strategy": session.config.strategy,
                "scorers": [s.name for s in session.scorers],
                "budget": {
                    "nodes": budget.nodes,
                    "tokens": budget.tokens,
                    "cost": budget.cost,
                    "wall_s": budget.wall_s,
                    "used_wall_s": budget.used(session.tree)["wall_s"],
                },
                "verifying": dict(session.verifying),
            }
        return out

    # -- the search ---------------------------------------------------------------------
    def _result(self, session) -> dict:
        """What ``trajscope search --headless`` prints: the selected node, its patch and verdict."""
        from trajscope.engine.launch import result_json

        return result_json(session, time.monotonic() - self.started_at, self._choose, self._select)

    def _run(self) -> None:
        from trajscope.engine.errors import UserCausedError
        from trajscope.engine.launch import build_session, selector
        from trajscope.engine.spec import SearchSpec
        from trajscope.engine.tasks import load_task

        try:
            spec = SearchSpec.from_json(self.spec.get("search", {}), "the search's spec")
            self._select = spec.selector_name()
            task = load_task(self.spec["task"], self.spec.get("instance"))
            session = build_session(spec, task, self.log)
            choose = selector(spec)
        except (UserCausedError, OSError, ValueError) as exc:
            self.state, self.error = "failed", str(exc)
            return
        except Exception as exc:  # noqa: BLE001 - a search that raises is a failed row, not a dead batch
            self.state, self.error = "failed", f"{type(exc).__name__}: {exc}"
            return
        with self._lock:
            self.session, self.started_at, self._choose = session, time.monotonic(), choose
            if self.state == "stopped":
                session.close("stopped")
                return
            self.state = "running"
        try:
            session.start()
            session.wait()
            # a batch closes a search that ended by itself: its slot goes to the next one; a
            # served search stays open (a presenter may raise the budget or submit a node)
            if self.spec.get("close_when_done", True):
                session.close()
            self.result = self._result(session)
            if self.state == "running":
                self.state = "finished"
        except Exception as exc:  # noqa: BLE001
            self.state, self.error = "failed", f"{type(exc).__name__}: {exc}"


def _ray_node() -> str:
    """The Ray node this runs on (its id), or "" outside Ray."""
    import sys

    ray = sys.modules.get("ray")
    if ray is None or not ray.is_initialized():
        return ""
    try:
        return ray.get_runtime_context().get_node_id()
    except Exception:  # noqa: BLE001 - a driver-side call outside a worker
        return ""
