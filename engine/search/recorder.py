"""Recording a search's steps (docs/architecture.md section 5).

``Recorder`` is the one way a search changes the tree: it appends each event to
the run log and folds it into the live ``Tree`` under one lock, so the log and
the tree never disagree. ``execute_node`` runs one recorded step and records what
it did; ``record_submission`` verifies a patch and records its verdict; ``path_outcome`` says how a search of
one path ended (``trajscope run``).
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from trajscope.engine.actions import Action
from trajscope.engine.tools import execute
from trajscope.engine.events import RunLog, make_event
from trajscope.engine.trace import diff_stat
from trajscope.engine.sandbox.base import Sandbox, SandboxError
from trajscope.engine.tasks import Task, TaskError
from trajscope.engine.verification import verify
from trajscope.engine.tree import ROOT, Tree


class Recorder:
    """Appends events to a run log and folds them into a tree, thread-safely."""

    def __init__(self, log: RunLog | None, tree: Tree | None = None, run: str | None = None):
        self.log, self.tree = log, tree if tree is not None else Tree()
        self.run = run or (log.run if log is not None else "run")
        self._lock = threading.Lock()
        self._ids = itertools.count(1 + sum(1 for n in self.tree.nodes if n != ROOT))
        self.listeners: list[Callable[[dict], None]] = []

    @contextmanager
    def reading(self) -> Iterator[Tree]:
        """Hold while reading several things from the tree, so that no event lands in between
        (and emit nothing meanwhile: the lock is not re-entrant)."""
        with self._lock:
            yield self.tree

    def new_id(self) -> str:
        with self._lock:
            while True:
                node_id = f"n{next(self._ids)}"
                if node_id not in self.tree.nodes:
                    return node_id

    def emit(self, type_: str, **fields) -> dict:
        event = make_event(type_, self.run, **fields)
        with self._lock:
            if self.log is not None:
                self.log.append(event)
            self.tree.apply(event)
            for listener in self.listeners:  # under the lock: a listener sees every event exactly once
                listener(event)
        return event

    def subscribe(self, listener: Callable[[dict], None]) -> list[dict]:
        """Add ``listener``; returns the events already in the log (none is missed or seen twice)."""
        from trajscope.engine.events import read_events

        with self._lock:
            events = list(read_events(self.log.path)) if self.log is not None else []
            self.listeners.append(listener)
        return events

    def unsubscribe(self, listener: Callable[[dict], None]) -> None:
        with self._lock:
            if listener in self.listeners:
                self.listeners.remove(listener)


@dataclass
class RolloutResult:
    reason: str  # submitted, max_steps, policy_error, sandbox_error, stopped
    last: str | None  # the last node added
    steps: int = 0
    submitted: str | None = None
    patch: str = ""
    resolved: bool | None = None
    error: str = ""


def path_outcome(tree: Tree, max_depth: int) -> RolloutResult | None:
    """How a search of one path from the task ended; None when the tree is not one path."""
    first = tree.children(ROOT)
    if len(first) != 1:
        return None
    node, steps = tree.nodes[first[0]], 0
    while True:
        steps += node.exit_code is not None
        below = tree.children(node.id)
        if len(below) > 1:
            return None
        if not below:
            break
        node = tree.nodes[below[0]]
    result = RolloutResult("stopped", node.id, steps)
    if node.status == "failed":
        result.reason = "policy_error" if node.action is None else "sandbox_error"
        result.error = node.status_reason
    elif node.kind == "submit" and node.verified is not None:
        result.reason, result.submitted, result.patch = "submitted", node.id, node.patch or ""
        result.resolved = node.verified.get("resolved")
    elif node.depth >= max_depth:
        result.reason = "max_steps"
    return result


def execute_node(
    recorder: Recorder, sandbox: Sandbox, node_id: str, action: Action, prev_ref: str | None, timeout: float
) -> str | None:
    """Run a recorded node's action and record what it did (``node_started``, ``node_executed``
    with the patch when the state changed); the new state, or None after a sandbox failure,
    which marks the node failed with the reason."""
    recorder.emit("node_started", id=node_id)
    try:
        obs = execute(action, sandbox, timeout=timeout)
        ref = sandbox.snapshot()
        patch = sandbox.diff() if ref != prev_ref else None
    except SandboxError as exc:
        recorder.emit("node_status", id=node_id, status="failed", by="engine", reason=f"sandbox: {exc}")
        return None
    fields = {
        "observation": obs.text,
        "exit_code": obs.exit_code,
        "duration_s": round(obs.duration, 4),
        "state_ref": ref,
    }
    if patch is not None:
        fields |= {"patch": patch, "diff_stat": diff_stat(patch)}
    recorder.emit("node_executed", id=node_id, **fields)
    return ref


def record_submission(
    task: Task,
    recorder: Recorder,
    node_id: str,
    patch: str,
    sandbox_kind: str,
    timeout: float = 600.0,
    progress: Callable[[str], None] | None = None,
) -> dict:
    """Verify ``patch`` in a fresh sandbox and record the ``submitted`` event."""
    try:
        outcome = verify(task, patch, sandbox=sandbox_kind, timeout=timeout, progress=progress)
        verified = outcome.verified() | {"duration_s": round(outcome.duration_s, 3)}
        if outcome.error:
            verified["error"] = outcome.error
    except (TaskError, SandboxError) as exc:
        verified = {"passed": [], "failed": [], "resolved": False, "verdict": "error", "error": str(exc)}
    return recorder.emit("submitted", id=node_id, patch=patch, verified=verified)
