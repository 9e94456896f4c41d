"""Live branches from an imported run opened with a task (`trajscope open RUN --task TASK`).

The first branch a person asks for starts one search (a Session from the command's
options) whose log holds the imported run as its trunk (engine/branching.py); every later
branch from the same run goes into that same search, where the states along the trunk are
the replay's snapshots, so it restores instead of replaying. A divergence from the record
is refused once with its sentence; asking again at the same step goes on despite it.
"""

from __future__ import annotations

import threading
from pathlib import Path

from trajscope.engine.errors import UserCausedError
from trajscope.engine.replay import ReplayDiverged, ReplayError
from trajscope.tui.bridge import Source


class BranchableSource(Source):
    """An imported run opened with its task: the explorer shows it with the steering keys."""

    def __init__(self, path: Path, launcher: BranchLauncher) -> None:
        super().__init__(path)
        self.launcher = launcher


class BranchRefused(UserCausedError):
    """A branch that was not started; the message says why in one sentence."""


class BranchLauncher:
    """Starts (once) and holds the search that branches from ``source``, an imported run."""

    def __init__(self, source: Path, task, spec, out: Path, made: bool = True) -> None:
        """``made``: ``out`` is this command's own file (removed while nothing is in it); the
        run was checked against the task by the command (``open --task``, ``--any-task``)."""
        self.source, self.task, self.spec, self.out = Path(source), task, spec, Path(out)
        self.made = made
        self.session = None
        self.diverged: set[str] = set()  # steps whose divergence the person was told about
        self.by_patch: set[str] = set()  # steps that cannot be replayed but whose recorded patch was offered
        self._lock = threading.Lock()

    def session_at(self, node_id: str, search: bool = False):
        """The search holding the trunk, started at ``node_id`` the first time (blocking: call it
        from a worker). ``search``: rollouts of the strategy start at the step ("search from
        here"); else only the person's own step runs (a re-sample, an edit, a submission), in a
        linear search. UserCausedError, one sentence, when the state cannot be rebuilt."""
        from trajscope.engine.branching import prepare
        from trajscope.engine.launch import build_session
        from trajscope.engine.search.strategy import Job

        with self._lock:
            if self.session is not None:
                if search:  # a search already runs from this run: one more rollout, from here
                    self.session.push(Job("rollout", node_id, priority=0, by="human"))
                return self.session
            spec = self.spec if search else self.spec.updated({"strategy": "linear"})
            # a person's first step may be an edit or a submission, which need no policy: a demo
            # policy without a reference fix fails only the steps it is asked to propose
            session = build_session(spec, self.task, self.out, proposes=search)
            try:
                prefix = prepare(
                    self.source,
                    node_id,
                    self.task,
                    session.sandbox_kind,
                    go_on=node_id in self.diverged,
                    from_patch=node_id in self.by_patch,
                    any_task=True,
                    timeout=session.config.timeout,
                    **session.sandbox_options,
                )
            except ReplayDiverged as exc:
                self.diverged.add(node_id)
                self._discard(session)
                raise BranchRefused(f"{exc.divergence.sentence}; ask again here to branch despite it") from None
            except ReplayError as exc:
                self._discard(session)
                if not exc.patch_offered or node_id in self.by_patch:
                    raise
                self.by_patch.add(node_id)
                raise BranchRefused(f"{exc}; ask again here to rebuild it from that patch") from None
            except BaseException:
                self._discard(session)
                raise
            prefix.start_rollouts = search
            session.prefix = prefix
            session.start()
            self.session = session
            return session

    def _discard(self, session) -> None:
        """The log of a search that never started: closed, and removed when nothing is in it."""
        session.recorder.log.close()
        if self.made and self.out.exists() and self.out.stat().st_size == 0:
            self.out.unlink()

    def close(self) -> None:
        if self.session is not None:
            self.session.close("closed by the user")
