"""The Session: the tree, the run log, the sandboxes, the policy and the scorers, and the
command API the UI and the CLI call (docs/architecture.md section 1).

A search runs in worker threads, one sandbox each (forks of one root sandbox,
sharing its snapshot store). Work is a queue of jobs: roll out from a node,
expand a node (DARS, or a person's re-sample), run an edited action, verify a
submission. People's commands may come from any thread at any time; each is an
event in the run log, and its jobs go to the front of the queue. The strategy
is asked for more work whenever the queue runs dry; when it has none and no job
is running, or a budget is reached, the search ends and says why.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from engine.actions import Action
from engine.events import RunLog, read_events
from engine.policy.base import Proposal
from engine.sandbox.base import SandboxError
from engine.search import STRATEGIES, dars, steps
from engine.search.budget import Budget
from engine.search.commands import Commands
from engine.search.rollout import Recorder, submit
from engine.trace import path_steps
from engine.tasks import Task
from engine.tree import ROOT, Tree



@dataclass
class SearchConfig:
    strategy: str = "dars"
    max_depth: int = 30
    timeout: float = 120.0  # seconds one command may run
    samples: int = 4  # sample: independent rollouts
    k: int = 3  # dars: candidates per expansion
    temperature: float = 0.8  # expansions and pruned steps
    prune_m: int = 3  # prune: candidates per step
    prune_b: int = 1  # prune: candidates kept
    critic: str = "prm"  # dars: prm, llm or first
    refine_rounds: int = 0  # PDR: more rounds of rollouts, each conditioned on the last one's summaries
    limits: dict = field(default_factory=lambda: dict(dars.DEFAULT_LIMITS))
    after: dict = field(default_factory=lambda: {k: list(v) for k, v in dars.DEFAULT_AFTER.items()})

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise ValueError(f"unknown strategy {self.strategy!r}: use {', '.join(STRATEGIES)}")

    @property
    def dars(self) -> bool:
        return self.strategy in ("dars", "dars+prune")

    @property
    def prune_steps(self) -> bool:
        return self.strategy in ("prune", "dars+prune")

    def to_json(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(order=True)
class Job:
    priority: int
    seq: int
    kind: str = field(compare=False)  # rollout, expand, edit, submit
    node: str = field(compare=False, default=ROOT)
    n: int = 1
    hint: str | None = field(compare=False, default=None)
    action: dict | None = field(compare=False, default=None)
    by: str = field(compare=False, default="engine")
    instructions: str | None = field(compare=False, default=None)
    delay: float = field(compare=False, default=0.0)  # seconds to wait first (a restart's back-off)


RESTARTS = 3
"""Times a search starts again when every rollout died at its first step."""

RELAX_ROUNDS = 3
"""Rounds of relaxed limits after DARS's own (see Session._next_phase)."""

FRESH_ROLLOUTS = 4
"""Fresh rollouts after the relaxed rounds when the search has no budget at all; with one,
they go on until it is spent or a submission resolved."""


class Session(Commands):
    def __init__(self, task: Task, policy, log_path: str | Path, scorers: list | None = None,
                 sandbox: str = "local", workers: int = 1, budget: Budget | None = None,
                 config: SearchConfig | None = None, seed: int = 0, **sandbox_options):
        self.task, self.policy, self.scorers = task, policy, list(scorers or [])
        self.sandbox_kind, self.workers, self.seed = sandbox, max(1, workers), seed
        self.budget, self.config = budget or Budget(), config or SearchConfig()
        self.sandbox_options = sandbox_options
        path = Path(log_path)
        resumed = path.exists() and path.stat().st_size > 0
        tree = Tree.fold(read_events(path)) if resumed else Tree()
        self.recorder = Recorder(RunLog(path), tree)
        self.recorder_lock = self.recorder._lock
        self.resumed = resumed
        self.refs: dict[str, str] = {}  # node -> state in this session's snapshot store
        self.expansions: dict[str, int] = {}
        self.round, self.refined = 0, set()
        for node in tree.nodes.values():
            origin = node.extra.get("expanded_from")
            if origin:
                self.expansions[origin] = self.expansions.get(origin, 0) + 1
        self.rollouts = sum(1 for n in tree.children(ROOT) if not tree.nodes[n].extra.get("expanded_from"))
        self._cond = threading.Condition()
        self._jobs: list[Job] = []
        self._seq = itertools.count()
        self._busy = 0
        self._reserved = 0  # nodes that steps in flight may still add (see reserve)
        self.restarts = 0  # rollouts started again because every one so far died at its first step
        self.restart_backoff = 2.0  # seconds before the first restart; doubled for each next one
        self.phase = "dars" if self.config.dars else self.config.strategy  # see _next_phase
        self.relax = self.fresh = 0
        self._running = threading.Event()
        self._running.set()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._root_box = None
        self.finished: str | None = None
        self.started = time.monotonic()
        self.verifying: dict[str, str] = {}  # node -> the phase its verification is in (not logged)

    # -- plumbing -----------------------------------------------------------------------
    @property
    def tree(self) -> Tree:
        return self.recorder.tree

    @property
    def busy(self) -> int:
        """Workers running a job now."""
        return self._busy

    @property
    def elapsed_s(self) -> float:
        return time.monotonic() - self.started

    def emit(self, type_: str, **fields) -> dict:
        return self.recorder.emit(type_, **fields)

    def state_of(self, node_id: str | None) -> str | None:
        if node_id in (None, ROOT):
            return self._root_box.base if self._root_box else None
        return self.refs.get(node_id) or (None if self.resumed else self.tree.nodes[node_id].state_ref)

    def move_to(self, box, node_id: str | None) -> None:
        """Put ``box`` in the state of ``node_id`` (restore, or replay the path after a resume)."""
        node_id = node_id or ROOT
        if getattr(box, "at", None) == node_id:
            return
        ref = self.state_of(node_id)
        if ref is not None:
            box.restore(ref)
        else:  # a node from an earlier process: its snapshot store is gone, so replay its path
            from engine.actions import execute

            box.restore(box.base)
            for step in path_steps(self.tree, node_id):
                execute(step.action, box, timeout=self.config.timeout)
            self.refs[node_id] = box.snapshot()
        box.at = node_id

    @contextmanager
    def reserve(self, n: int, by: str = "engine"):
        """Claim ``n`` nodes of the node budget for a step about to add them; yields False
        when the budget cannot give them. With every step claiming before it proposes,
        a search never passes its node budget by more than one step's nodes less one
        (``prune_m - 1``), however many workers run; a person's steps are not counted."""
        with self._cond:
            ok = by in ("human", "resume") or not self.budget.exceeded(self.tree, pending=self._reserved)
            if ok:
                self._reserved += n
        try:
            yield ok
        finally:
            if ok:
                with self._cond:
                    self._reserved -= n

    def _push(self, kind: str, node: str = ROOT, priority: int = 1, **fields) -> None:
        with self._cond:
            heapq.heappush(self._jobs, Job(priority, next(self._seq), kind, node, **fields))
            self.finished = None  # there is work again: wait() waits for it
            self._cond.notify_all()

    # -- the loop -----------------------------------------------------------------------
    def start(self) -> None:
        if not self.resumed:
            self.emit("run_started", task=self.task.to_json(), config={
                **self.config.to_json(), "policy": self.policy.name, "sandbox": self.sandbox_kind,
                "scorers": [s.name for s in self.scorers], "workers": self.workers, "seed": self.seed,
                "budget": self.budget.to_json()})
        else:
            steps.pick_up(self)
        self._root_box = self.task.open_sandbox(self.sandbox_kind, **self.sandbox_options)
        self._root_box.at = ROOT
        if getattr(self._root_box, "notice", ""):  # in the log, so the app shows it too
            self.emit("command", name="sandbox_warning", by="engine", text=self._root_box.notice)
        for i in range(self.workers):
            thread = threading.Thread(target=self._worker, args=(i,), name=f"trajscope-worker-{i}", daemon=True)
            self._threads.append(thread)
            thread.start()

    def wait(self, timeout: float | None = None) -> str | None:
        """Block until the search has nothing left to do (or is stopped); returns why it ended.

        The workers stay up after that, so a person can still submit a node, re-sample, or
        raise the budget and let the search go on, until ``close``."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while not self._stop.is_set() and not (self.finished and self._busy == 0):
                left = 0.2 if deadline is None else min(0.2, deadline - time.monotonic())
                if left <= 0:
                    break
                self._cond.wait(left)
        return self.finished

    def close(self, reason: str | None = None) -> None:
        """Stop the workers, remove the sandboxes and end the log (idempotent)."""
        self._stop.set()
        self._running.set()
        with self._cond:
            self._cond.notify_all()
        for thread in self._threads:
            thread.join(30)
        if self.finished is None:
            self.finished = reason or "stopped"
        if self._root_box is not None:
            self._root_box.close()
            self._root_box = None
        if self.recorder.log is not None and not self.recorder.log.closed:
            tree = self.tree
            self.emit("run_finished", reason=self.finished, totals={
                "tokens_in": tree.tokens_in, "tokens_out": tree.tokens_out, "cost": tree.cost,
                "wall_s": round(time.monotonic() - self.started, 3)})
            self.recorder.log.close()

    def _take(self) -> Job | None:
        with self._cond:
            while not self._stop.is_set():
                job = self._next()
                if job is not None:
                    self._busy += 1
                    self.finished = None
                    return job
                self._cond.wait(0.2)
            return None

    def _next(self) -> Job | None:
        """The next job to run, if any (lock held); marks the search ended when there is none."""
        reason = self.budget.exceeded(self.tree)
        if reason:  # past the budget only what a person asked for runs (not the rollouts it starts)
            job = self._human_job()
            if job is not None:
                return job
            if self._busy == 0:
                self._idle(f"{reason} reached")
            return None
        if not self._running.is_set():  # paused: only what a person asked for runs
            return self._human_job()
        if self._jobs:
            return heapq.heappop(self._jobs)
        job = self._plan()
        if job is None and self._busy == 0:
            self._idle("search exhausted: no node left to expand")
        return job

    def _human_job(self) -> Job | None:
        """What runs even when paused or past the budget: a person's jobs, and the
        verification of submissions a resumed search inherited."""
        for i, job in enumerate(self._jobs):
            if job.by in ("human", "resume"):
                self._jobs.pop(i)
                heapq.heapify(self._jobs)
                return job
        return None

    def _idle(self, reason: str) -> None:
        """Nothing left to do for now (the budget, no node to expand): the workers stay up for
        what a person asks next, and wait() returns ``reason``."""
        if self.finished is None:
            self.finished = reason
        self._cond.notify_all()

    def _abort(self, reason: str) -> None:
        """Stop for good (a broken sandbox): the workers end, nothing more runs."""
        self.finished = reason
        self._stop.set()
        self._cond.notify_all()

    def _plan(self) -> Job | None:
        """The strategy's next job (called with the lock held)."""
        cfg = self.config
        wanted = cfg.samples if cfg.strategy == "sample" else 1
        if self.rollouts < wanted:
            self.rollouts += 1
            return Job(1, next(self._seq), "rollout", ROOT)
        # Every rollout so far died at its first step (a provider error, a broken model
        # answer): start again, a few times, waiting longer each time, within the budget.
        if self._busy == 0 and self.restarts < RESTARTS and self.tree.n_children(ROOT) and all(
                self.tree.nodes[c].status == "failed" for c in self.tree.children(ROOT)):
            self.restarts += 1
            self.rollouts += 1
            self.emit("command", name="restart_search", by="engine", attempt=self.restarts,
                      reason=self.tree.nodes[self.tree.children(ROOT)[-1]].status_reason[:300])
            return Job(1, next(self._seq), "rollout", ROOT,
                       delay=min(30.0, self.restart_backoff * 2 ** (self.restarts - 1)))
        if cfg.dars:
            while True:
                node = dars.next_expansion(self.tree, self.expansions, *self._dars_limits())
                if node is not None:
                    self.expansions[node] = self.expansions.get(node, 0) + 1
                    return Job(1, next(self._seq), "expand", node, n=cfg.k)
                before = (self.relax, self.fresh)
                job = self._next_phase()
                if job is not None:
                    return job
                if (self.relax, self.fresh) == before:  # no phase left, or not now
                    break
        if self.round < cfg.refine_rounds and self._busy == 0:
            from engine.search.refine import distill

            self.round += 1
            last = [n for n in self.tree.nodes if self.tree.nodes[n].status == "submitted"
                    and n not in self.refined]
            self.refined.update(last)
            note = distill(self.tree, last)
            self.emit("command", name="refine_round", by="engine", round=self.round, note=note)
            for _ in range(wanted - 1):
                self._push("rollout", ROOT, instructions=note)
            return Job(1, next(self._seq), "rollout", ROOT, instructions=note)
        return None

    # -- DARS beyond its limits ------------------------------------------------------------
    def _dars_limits(self) -> tuple[dict, dict]:
        """The expansion limits of the phase: DARS's own, then relaxed round by round (each
        round allows one more expansion of each kind along a path; from the second on,
        any critical kind may branch inside any branch)."""
        cfg = self.config
        if self.relax == 0:
            return cfg.limits, cfg.after
        limits = {kind: n + self.relax for kind, n in cfg.limits.items()}
        after = cfg.after if self.relax < 2 else {kind: sorted(dars.CRITICAL_KINDS) for kind in cfg.limits}
        return limits, after

    def _may_go_on(self) -> bool:
        """Whether DARS goes on past its limits: only when no work is in flight, some
        rollout got past its first step, and no submission has been verified as resolved
        (the stopping rule); the budget ends it otherwise (checked before any job is planned)."""
        tree = self.tree
        return (self._busy == 0
                and any(tree.nodes[c].status != "failed" for c in tree.children(ROOT))  # else: restarts
                and not any(tree.nodes[n].resolved for n in tree.nodes if tree.nodes[n].status == "submitted"))

    def _next_phase(self) -> Job | None:
        """DARS found nothing to expand: relax its limits (RELAX_ROUNDS rounds), then start
        fresh rollouts that read what the submissions so far got wrong (until the budget is
        spent; FRESH_ROLLOUTS without a budget); a rollout job when the phase starts with
        one, else None (plan again)."""
        if not self._may_go_on():
            return None
        if self.relax < RELAX_ROUNDS:
            self.relax += 1
            limits, after = self._dars_limits()
            self._set_phase(f"relaxed {self.relax}/{RELAX_ROUNDS}", limits=limits)
            return None
        bounded = any(v is not None for v in (self.budget.nodes, self.budget.tokens, self.budget.cost,
                                               self.budget.wall_s))
        if self.fresh < FRESH_ROLLOUTS or bounded:  # a budget ends them; without one, a few
            phase = f"fresh rollouts ({self.fresh + 1})" if bounded else \
                f"fresh rollouts {self.fresh + 1}/{FRESH_ROLLOUTS}"
            from engine.search.refine import distill

            self.fresh += 1
            self.rollouts += 1
            submitted = [n for n in self.tree.nodes if self.tree.nodes[n].status == "submitted"]
            note = distill(self.tree, submitted) if submitted else None
            self._set_phase(phase)
            return Job(1, next(self._seq), "rollout", ROOT, instructions=note)
        return None

    def _set_phase(self, phase: str, **fields) -> None:
        self.phase = phase
        self.emit("command", name="search_phase", by="engine", phase=phase, **fields)

    def _worker(self, index: int) -> None:
        box = None
        try:
            while True:
                job = self._take()
                if job is None:
                    return
                try:
                    if box is None:
                        box = self._root_box if index == 0 else self._root_box.fork(self._root_box.base)
                        box.at = ROOT
                    getattr(self, f"_do_{job.kind}")(job, box)
                except SandboxError as exc:
                    self._abort(f"sandbox failed: {exc}")
                finally:
                    with self._cond:
                        self._busy -= 1
                        self._cond.notify_all()
        finally:
            if box is not None and box is not self._root_box:
                box.close()

    def _gate(self, node_id: str, instructions: str | None = None) -> bool:
        """False when the rollout below ``node_id`` must stop. Paused, it goes back on the queue
        and frees its worker for what a person asks meanwhile; resuming picks it up."""
        if not self._running.is_set():
            self._push("rollout", node_id, instructions=instructions)
            return False
        if self._stop.is_set() or self.budget.exceeded(self.tree):
            return False
        return not any(n.status in ("pruned", "failed") for n in self.tree.path(node_id))

    # -- jobs ---------------------------------------------------------------------------
    def _after_execute(self, box, node_id: str) -> bool:
        """Submit when the node submitted; True when the rollout may go on from it."""
        node = self.tree.nodes[node_id]
        if node.kind == "submit":
            from engine.search.select import summarize

            self._verify(node_id, box.diff())
            with self.recorder_lock:
                summary = summarize(self.tree, node_id)
            self.emit("summary_written", id=node_id, summary=summary)
            return False
        return node.depth < self.config.max_depth

    def _do_rollout(self, job: Job, box) -> None:
        if job.delay and self._stop.wait(job.delay):
            return
        parent = job.node
        while parent == ROOT or self._gate(parent, job.instructions):
            children = steps.step(self, box, parent, job.instructions)
            if not children:
                return
            for extra in children[1:]:  # PRM pruning may keep several: each goes on in its own job
                if self._after_execute(box, extra):
                    self._push("rollout", extra, instructions=job.instructions)
            if not self._after_execute(box, children[0]):
                return
            parent = children[0]

    def _do_expand(self, job: Job, box) -> None:
        tree = self.tree
        node = tree.nodes[job.node] if job.node != ROOT else None
        parent = ROOT if node is None else (node.parent or ROOT)
        instructions = dars.resample_prompt(tree, job.node) if node is not None else None
        adds = job.n if job.by == "human" else 1  # the critic keeps one candidate
        with self.reserve(adds, job.by) as ok:  # held until its nodes are in the tree
            if ok:
                self._expand(job, box, node, parent, instructions)

    def _expand(self, job: Job, box, node, parent: str, instructions: str | None) -> None:
        tree = self.tree
        proposals = steps.propose(self, parent, job.n, self.config.temperature, job.hint, instructions)
        if not proposals:
            return
        siblings = [tree.nodes[s].action for s in tree.children(parent)]
        fresh: list[Proposal] = []
        for p in proposals:
            if not any(steps.same_action(p.action.to_dict(), a) for a in siblings + [f.action.to_dict() for f in fresh]):
                fresh.append(p)
        if not fresh:
            self.emit("branch_requested", parent=job.node, n=job.n, hint=job.hint, by=job.by,
                      result="every candidate repeated an existing sibling")
            return
        critic = None
        if job.by == "human":
            chosen = fresh
        else:
            pick, critic = dars.pick(self, parent, fresh)
            chosen = [fresh[pick]]
        others = [{"action": p.action.to_dict(), "thought": p.thought, "why": "the critic preferred another"}
                  for p in fresh if p not in chosen] + [
                  {"action": p.action.to_dict(), "thought": p.thought, "why": "repeats an existing sibling"}
                  for p in proposals if p not in fresh]
        for p in chosen:
            extra = {"expanded_from": job.node} if node is not None else {}
            node_id = steps.add(self, parent, p, candidates=others or None, critic=critic, **extra)
            if steps.run_node(self, box, node_id) and self._after_execute(box, node_id):
                self._push("rollout", node_id, priority=job.priority)

    def _do_edit(self, job: Job, box) -> None:
        node = self.tree.nodes[job.node]
        action = Action.from_dict(job.action or {})
        label = action.to_dict() | {"by": "human"}
        proposal = Proposal(action, "", proposer="human", teacher_action=label)
        node_id = steps.add(self, node.parent or ROOT, proposal, edited_from=job.node)
        if steps.run_node(self, box, node_id) and self._after_execute(box, node_id):
            self._push("rollout", node_id, priority=0)

    def _do_submit(self, job: Job, box) -> None:
        self.move_to(box, job.node)
        self._verify(job.node, box.diff())

    def _verify(self, node_id: str, patch: str) -> None:
        self.verifying[node_id] = "queued"
        try:
            submit(self.task, self.recorder, node_id, patch, self.sandbox_kind,
                   progress=lambda phase: self.verifying.__setitem__(node_id, phase))
        finally:
            self.verifying.pop(node_id, None)
