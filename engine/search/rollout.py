"""A rollout: from a node, propose, execute, snapshot, repeat until submit (docs/architecture.md section 5).

``Recorder`` is the one way a search changes the tree: it appends each event to
the run log and folds it into the live ``Tree`` under one lock, so the log and
the tree never disagree. ``rollout`` is the loop every strategy builds on;
``run_linear`` is the simplest search: one rollout from the task's base state.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from engine.actions import Action, execute
from engine.events import RunLog, make_event
from engine.policy.base import Context, Policy, PolicyError
from engine.trace import diff_stat, path_steps
from engine.sandbox.base import Sandbox, SandboxError
from engine.tasks import Task, TaskError, verify
from engine.tree import ROOT, Tree


class Recorder:
    """Appends events to a run log and folds them into a tree, thread-safely."""

    def __init__(self, log: RunLog | None, tree: Tree | None = None, run: str | None = None):
        self.log, self.tree = log, tree if tree is not None else Tree()
        self.run = run or (log.run if log is not None else "run")
        self._lock = threading.Lock()
        self._ids = itertools.count(1 + sum(1 for n in self.tree.nodes if n != ROOT))
        self.listeners: list[Callable[[dict], None]] = []

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
        from engine.events import read_events

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


def rollout(task: Task, policy: Policy, sandbox: Sandbox, recorder: Recorder, parent: str | None = None,
            max_steps: int = 30, timeout: float = 120.0, verify_sandbox: str | None = None,
            stop: threading.Event | None = None, seed: int | None = None,
            on_node: Callable[[object], None] | None = None) -> RolloutResult:
    """Grow one path below ``parent`` (the task when None); the sandbox must hold parent's state."""
    tree = recorder.tree
    result = RolloutResult("max_steps", parent)
    prev_ref = tree.nodes[parent].state_ref if parent not in (None, ROOT) else None
    depth = tree.nodes[parent].depth if parent not in (None, ROOT) else 0
    while depth < max_steps:
        if stop is not None and stop.is_set():
            result.reason = "stopped"
            return result
        context = Context(task, path_steps(tree, parent), seed=seed)
        node_id = recorder.new_id()
        try:
            proposal = policy.propose(context, 1)[0]
        except PolicyError as exc:
            recorder.emit("node_added", id=node_id, parent=parent, action=None, proposer="policy")
            recorder.emit("node_status", id=node_id, status="failed", by="engine", reason=str(exc))
            result.reason, result.last, result.error = "policy_error", node_id, str(exc)
            if on_node is not None:
                on_node(tree.nodes[node_id])
            return result
        recorder.emit("node_added", id=node_id, parent=parent, **proposal.event_fields())
        ref = execute_node(recorder, sandbox, node_id, proposal.action, prev_ref, timeout)
        if ref is None:
            result.reason, result.last = "sandbox_error", node_id
            result.error = tree.nodes[node_id].status_reason
            if on_node is not None:
                on_node(tree.nodes[node_id])
            return result
        result.steps += 1
        result.last, parent, prev_ref, depth = node_id, node_id, ref, depth + 1
        if on_node is not None:
            on_node(tree.nodes[node_id])
        if proposal.action.tool == "submit":
            result.reason, result.submitted = "submitted", node_id
            result.patch = sandbox.diff()
            submit(task, recorder, node_id, result.patch, verify_sandbox or sandbox.kind, timeout=max(timeout, 600))
            result.resolved = (tree.nodes[node_id].verified or {}).get("resolved")
            return result
    return result


def execute_node(recorder: Recorder, sandbox: Sandbox, node_id: str, action: Action, prev_ref: str | None,
                 timeout: float) -> str | None:
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
    fields = {"observation": obs.text, "exit_code": obs.exit_code, "duration_s": round(obs.duration, 4),
              "state_ref": ref}
    if patch is not None:
        fields |= {"patch": patch, "diff_stat": diff_stat(patch)}
    recorder.emit("node_executed", id=node_id, **fields)
    return ref


def submit(task: Task, recorder: Recorder, node_id: str, patch: str, sandbox_kind: str,
           timeout: float = 600.0, progress: Callable[[str], None] | None = None) -> dict:
    """Verify ``patch`` in a fresh sandbox and record the ``submitted`` event."""
    try:
        outcome = verify(task, patch, sandbox=sandbox_kind, timeout=timeout, progress=progress)
        verified = outcome.verified() | {"duration_s": round(outcome.duration_s, 3)}
        if outcome.error:
            verified["error"] = outcome.error
    except (TaskError, SandboxError) as exc:
        verified = {"passed": [], "failed": [], "resolved": False, "verdict": "error", "error": str(exc)}
    return recorder.emit("submitted", id=node_id, patch=patch, verified=verified)


def run_linear(task: Task, policy: Policy, log: RunLog, sandbox_kind: str = "local", max_steps: int = 30,
               timeout: float = 120.0, seed: int | None = None, stop: threading.Event | None = None,
               on_node: Callable[[object], None] | None = None, config: dict | None = None,
               **sandbox_options) -> tuple[RolloutResult, Tree]:
    """One rollout of ``policy`` on ``task`` in a fresh sandbox, recorded in ``log``."""
    recorder = Recorder(log)
    started = time.perf_counter()
    recorder.emit("run_started", task=task.to_json(), config={
        "strategy": "linear", "policy": policy.name, "sandbox": sandbox_kind, "max_steps": max_steps,
        "seed": seed, **(config or {})})
    reason = "error"
    try:
        with task.open_sandbox(sandbox_kind, **sandbox_options) as sandbox:
            if getattr(sandbox, "notice", ""):  # in the log, so the app shows it too
                recorder.emit("command", name="sandbox_warning", by="engine", text=sandbox.notice)
            result = rollout(task, policy, sandbox, recorder, None, max_steps, timeout,
                             stop=stop, seed=seed, on_node=on_node)
        reason = result.reason
    except KeyboardInterrupt:
        reason = "interrupted"
        raise
    finally:
        tree = recorder.tree
        recorder.emit("run_finished", reason=reason, totals={
            "tokens_in": tree.tokens_in, "tokens_out": tree.tokens_out, "cost": tree.cost,
            "wall_s": round(time.perf_counter() - started, 3)})
    return result, recorder.tree
