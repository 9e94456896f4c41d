"""A search of a batch as the live explorer sees a Session: its tree from the driver's copy of
the log, its state from the worker's last status, and every control forwarded to the worker
wherever it runs (a process here, or a Ray actor on another node)."""

from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace

from trajscope.engine.search.budget import Budget
from trajscope.tui.batch.worker import COMMANDS
from trajscope.tui.bridge import LiveSource, Source


class _Recorder:
    def __init__(self, member) -> None:
        self.member = member
        self.log = SimpleNamespace(path=member.log, closed=False)

    def subscribe(self, listener) -> list[dict]:
        """The events of the driver's log now; ``listener`` hears every later one (none twice)."""
        from trajscope.engine.events import read_events

        member = self.member
        with member.lock:
            if hasattr(member, "events_so_far"):  # a follower of a log another process writes
                events = member.events_so_far()
            else:  # the driver's own copy, written under this lock
                events = list(read_events(member.log)) if member.log.exists() else []
            member.listeners.append(listener)
        return events

    def unsubscribe(self, listener) -> None:
        with self.member.lock:
            if listener in self.member.listeners:
                self.member.listeners.remove(listener)


class _Commands:
    def __init__(self, fleet, member) -> None:
        self._fleet, self._member = fleet, member

    def __getattr__(self, name: str):
        if name not in COMMANDS:
            raise AttributeError(name)
        return lambda *args, **kwargs: self._fleet.command(self._member, name, *args, **kwargs)


class RemoteSession:
    """What LiveScreen and SubmitScreen read of a Session, for a search of the fleet."""

    def __init__(self, fleet, member) -> None:
        self.fleet, self.member = fleet, member
        self.recorder = _Recorder(member)
        self.commands = _Commands(fleet, member)
        self.task = SimpleNamespace(instance_id=member.name)
        self._verifying: dict = {}
        self._budget, self._budget_from = Budget(nodes=None), None

    def _status(self, key: str, default=None):
        return self.member.status.get(key, default)

    @property
    def tree(self):
        return self.member.tree

    @property
    def paused(self) -> bool:
        return bool(self._status("paused", False))

    @property
    def finished(self) -> str | None:
        if self.member.done:
            return self.member.reason or self.member.state
        return self._status("finished")

    @property
    def busy(self) -> int:
        return int(self._status("busy", 0) or 0) if not self.member.done else 0

    @property
    def workers(self) -> int:
        return int(self._status("workers", 1) or 1)

    @property
    def phase(self) -> str:
        return str(self._status("phase", "") or "")

    @property
    def config(self):
        return SimpleNamespace(strategy=str(self._status("strategy", "") or ""))

    @property
    def scorers(self) -> list:
        return [SimpleNamespace(name=name) for name in self._status("scorers", []) or []]

    @property
    def budget(self) -> Budget:
        """One Budget whose limits follow the worker's and whose clock is the worker's: a Budget
        made on each read started its clock then, and a worker 420 s in showed 0 s used."""
        status = self.member.status
        if status is not self._budget_from:
            self._budget_from = status
            limits = status.get("budget") or {}
            for name in ("nodes", "tokens", "cost", "wall_s"):
                setattr(self._budget, name, limits.get(name))
            used = limits.get("used_wall_s")
            if isinstance(used, (int, float)):
                self._budget.started = time.monotonic() - used  # as of this status's arrival
        return self._budget

    @property
    def verifying(self) -> dict:
        self._verifying.clear()
        self._verifying.update(self._status("verifying", {}) or {})
        return self._verifying


class RemoteLiveSource(LiveSource):
    """A search of the fleet, opened from the fleet screen (escape goes back to it)."""

    can_go_back = True

    def __init__(self, fleet, member) -> None:
        Source.__init__(self, member.log)
        self.session = RemoteSession(fleet, member)

    @property
    def mode(self) -> str:
        member, session = self.session.member, self.session
        where = f" on {member.node[:12]}" if member.node else ""
        if member.done:
            return f"{member.state}{where}: {member.reason}" if member.reason else f"{member.state}{where}"
        if session.finished and not session.busy:
            return f"finished{where}: {session.finished}"
        return ("paused" if session.paused else "searching") + where


class FleetSource(Source):
    """A batch: the app opens the fleet screen."""

    def __init__(self, fleet, out: Path) -> None:
        super().__init__(out)
        self.fleet = fleet
