"""The Session: one search's loop, over the tree, the run log, the sandboxes, the policy
and the scorers (docs/architecture.md section 5).

A search runs in worker threads, one sandbox each (forks of one root sandbox,
sharing its snapshot store). Work is a queue of jobs (``engine.search.work`` says
what each kind does): roll out from a node, expand a node (DARS, or a person's
re-sample), run an edited action, verify a submission. A person's commands
(``session.commands``) may come from any thread at any time; each is an event in
the run log, and its jobs go to the front of the queue. The strategy
(``session.strategy``) is asked for more work whenever the queue runs dry; when it
has none and no job is running, or a budget is reached, the search ends and says why.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from trajscope.engine.events import RunLog, read_events
from trajscope.engine.replay import ReplayError
from trajscope.engine.sandbox.base import SandboxError
from trajscope.engine.search import make_strategy, steps
from trajscope.engine.search.budget import Budget
from trajscope.engine.search.config import SearchConfig
from trajscope.engine.search.commands import Commands
from trajscope.engine.search.recorder import Recorder
from trajscope.engine.search.strategy import Job, rollout_heads
from trajscope.engine.search.work import HANDLERS
from trajscope.engine.trace import path_steps
from trajscope.engine.tasks import Task
from trajscope.engine.tree import ROOT, Tree


RESTARTS = 3
"""Times a search starts again when every rollout died at its first step."""


class Session:
    """A search: the loop (queue, workers, budget, restarts), its strategy, and a person's
    ``commands``. ``log`` is a path, or a RunLog already open (the session closes it)."""

    def __init__(
        self,
        task: Task,
        policy,
        log: str | Path | RunLog,
        scorers: list | None = None,
        sandbox: str = "local",
        workers: int = 1,
        budget: Budget | None = None,
        config: SearchConfig | None = None,
        seed: int = 0,
        restarts: int = RESTARTS,
        meta: dict | None = None,
        prefix=None,
        **sandbox_options,
    ):
        self.task, self.policy, self.scorers = task, policy, list(scorers or [])
        self.sandbox_kind, self.workers, self.seed = sandbox, max(1, workers), seed
        self.budget, self.config = budget or Budget(), config or SearchConfig()
        self.sandbox_options, self.meta = sandbox_options, dict(meta or {})
        run_log = log if isinstance(log, RunLog) else RunLog(log)
        path = run_log.path
        resumed = path.exists() and path.stat().st_size > 0
        tree = Tree.fold(read_events(path)) if resumed else Tree()
        self.recorder = Recorder(run_log, tree)
        self.resumed = resumed
        self.strategy = make_strategy(self.config, tree)
        self.commands = Commands(self)
        self.refs: dict[str, str] = {}  # node -> state in this session's snapshot store
        # sandbox -> the node whose state it holds (absent: unknown), so a move there is free;
        # the session owns this, not the sandbox, whose own attributes the engine leaves alone
        self.box_at: dict = {}
        self.rollouts = sum(1 for n in tree.children(ROOT) if not tree.nodes[n].extra.get("expanded_from"))
        self._cond = threading.Condition()
        self._closing = threading.RLock()
        self._jobs: list[tuple[int, int, Job]] = []  # a heap: (priority, order, job)
        self._seq = itertools.count()
        self._busy = 0
        self._reserved = 0  # nodes that steps in flight may still add (see reserve)
        self.max_restarts = restarts
        self.restarts = 0  # rollouts started again because every one so far died at its first step
        self.restart_backoff = 2.0  # seconds before the first restart; doubled for each next one
        self._running = threading.Event()
        self._running.set()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._root_box = None
        self.finished: str | None = None
        self.started = time.monotonic()
        self.verifying: dict[str, str] = {}  # node -> the phase its verification is in (not logged)
        # an imported run's step to start from (engine/branching.py); rollouts start at origin
        self.prefix, self.origin = prefix, ROOT

    # -- what strategies, job handlers and commands use ------------------------------------
    @property
    def tree(self) -> Tree:
        return self.recorder.tree

    @property
    def busy(self) -> int:
        """Workers running a job now."""
        return self._busy

    @property
    def phase(self) -> str:
        """What the strategy is doing now (DARS past its own limits: relaxed rounds, fresh rollouts)."""
        return self.strategy.phase

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    # -- the rest of what the app reads (engine.live.LiveSearch) ----------------------------
    @property
    def log_path(self) -> Path:
        return self.recorder.log.path

    @property
    def strategy_name(self) -> str:
        return self.config.strategy

    def subscribe(self, listener) -> list[dict]:
        """The events so far; ``listener`` then hears every later one (none missed, none twice)."""
        return self.recorder.subscribe(listener)

    def unsubscribe(self, listener) -> None:
        self.recorder.unsubscribe(listener)

    def emit(self, type_: str, **fields) -> dict:
        return self.recorder.emit(type_, **fields)

    def push(self, job: Job) -> None:
        """Queue ``job`` (people's jobs, priority 0, go first; equal priorities in order)."""
        with self._cond:
            heapq.heappush(self._jobs, (job.priority, next(self._seq), job))
            self.finished = None  # there is work again: wait() waits for it
            self._cond.notify_all()

    def hold(self, paused: bool) -> None:
        """Pause (workers finish their step, then take only a person's jobs) or go on."""
        if paused:
            self._running.clear()
            return
        self._running.set()
        with self._cond:
            self._cond.notify_all()

    def stopped(self, wait_s: float = 0.0) -> bool:
        """Whether the search is being stopped, waiting up to ``wait_s`` for it."""
        return self._stop.wait(wait_s) if wait_s > 0 else self._stop.is_set()

    def may_continue(self, node_id: str, instructions: str | None = None) -> bool:
        """False when the rollout below ``node_id`` must stop. Paused, it goes back on the queue
        and frees its worker for what a person asks meanwhile; resuming picks it up."""
        if not self._running.is_set():
            self.push(Job("rollout", node_id, instructions=instructions))
            return False
        if self._stop.is_set() or self.budget.exceeded(self.tree):
            return False
        return not any(n.status in ("pruned", "failed") for n in self.tree.path(node_id))

    def state_of(self, node_id: str | None) -> str | None:
        if node_id in (None, ROOT):
            return self._root_box.base if self._root_box else None
        return self.refs.get(node_id) or (None if self.resumed else self.tree.nodes[node_id].state_ref)

    def move_to(self, box, node_id: str | None) -> None:
        """Put ``box`` in the state of ``node_id`` (restore, or replay the path after a resume)."""
        node_id = node_id or ROOT
        if self.box_at.get(box) == node_id:
            return
        ref = self.state_of(node_id)
        if ref is not None:
            box.restore(ref)
        elif self.prefix is not None and self.prefix.covers(node_id):  # an imported step: its format's replay
            self.refs[node_id] = self.prefix.rebuild(box, node_id)
        else:  # a node from an earlier process: its snapshot store is gone, so replay its path
            from trajscope.engine.tools import execute

            box.restore(box.base)
            for step in path_steps(self.tree, node_id):
                execute(step.action, box, timeout=self.config.timeout)
            self.refs[node_id] = box.snapshot()
        self.box_at[box] = node_id

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

    # -- the loop -----------------------------------------------------------------------
    def start(self) -> None:
        # The sandbox first: one that cannot confine refuses before the log says a run started,
        # and the log records what the commands really run in.
        self._root_box = (
            self.prefix.box if self.prefix else self.task.open_sandbox(self.sandbox_kind, **self.sandbox_options)
        )
        self.box_at[self._root_box] = ROOT
        if not self.resumed:
            self.emit(
                "run_started",
                task=self.task.to_json(),
                config={
                    **self.config.to_json(),
                    "policy": self.policy.name,
                    "sandbox": self._root_box.kind,
                    "isolated": bool(getattr(self._root_box, "isolated", True)),
                    "scorers": [s.name for s in self.scorers],
                    "workers": self.workers,
                    "seed": self.seed,
                    "budget": self.budget.to_json(),
                    **self.meta,
                },
            )
            if self.prefix is not None:
                self.prefix.attach(self)
        else:
            steps.pick_up(self)
        self.budget.exclude(self.tree)  # an imported trunk is recorded, not spent (also when resumed)
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
        """Stop the workers, remove the sandboxes and end the log (idempotent, and safe from
        two threads at once: a batch worker's close and its search's own end meet here; the
        second waits for the first and finds the log ended). ``reason`` says why when the
        search had not ended by itself."""
        with self._closing:
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
                self.emit(
                    "run_finished",
                    reason=self.finished,
                    totals={
                        "tokens_in": tree.tokens_in,
                        "tokens_out": tree.tokens_out,
                        "cost": tree.cost,
                        "wall_s": round(time.monotonic() - self.started, 3),
                    },
                )
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
            return heapq.heappop(self._jobs)[2]
        job = self._plan()
        if job is None and self._busy == 0:
            self._idle(self.strategy.end_reason(self.tree) or "search exhausted: no node left to expand")
        return job

    def _human_job(self) -> Job | None:
        """What runs even when paused or past the budget: a person's jobs, and the
        verification of submissions a resumed search inherited."""
        for i, (_, _, job) in enumerate(self._jobs):
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
        """The next job when the queue is empty (lock held): the first rollouts, a restart
        when every rollout died at its first step, else what the strategy says."""
        if self.rollouts < self.strategy.width:
            self.rollouts += 1
            return Job("rollout", self.origin)
        # Every rollout so far died at its first step (a provider error, a broken model
        # answer): start again, a few times, waiting longer each time, within the budget.
        tree = self.tree
        if (
            self._busy == 0
            and self.restarts < self.max_restarts
            and rollout_heads(tree, self.origin)
            and all(tree.nodes[c].status == "failed" for c in rollout_heads(tree, self.origin))
        ):
            self.restarts += 1
            self.rollouts += 1
            self.emit(
                "command",
                name="restart_search",
                by="engine",
                attempt=self.restarts,
                reason=tree.nodes[rollout_heads(tree, self.origin)[-1]].status_reason[:300],
            )
            return Job("rollout", self.origin, delay=min(30.0, self.restart_backoff * 2 ** (self.restarts - 1)))
        jobs = self.strategy.next_jobs(self)
        for job in jobs[1:]:
            self.push(job)
        return jobs[0] if jobs else None

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
                        self.box_at[box] = ROOT
                    HANDLERS[job.kind](self, job, box)
                except SandboxError as exc:
                    self._abort(f"sandbox failed: {exc}")
                except ReplayError:  # an imported step this job needed cannot be rebuilt: the job ends,
                    pass  # the search goes on (the prefix recorded why and failed the job's new steps)
                finally:
                    with self._cond:
                        self._busy -= 1
                        self._cond.notify_all()
        finally:
            if box is not None and box is not self._root_box:
                self.box_at.pop(box, None)
                box.close()
