"""A search of a batch as the live explorer sees a Session: its tree from the driver's copy of
the log, its state from the worker's last status, and every control forwarded to the worker
wherever it runs (a process here, or a Ray actor on another node). ``RemoteSession`` is an
``engine.live.LiveSearch``, as ``Session`` is: the live screen reads nothing else of either."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from trajscope.engine.search.budget import usage
from trajscope.engine.tree import Tree
from trajscope.tui.bridge import LiveSource, Source


class Followed(Protocol):
    """A search run elsewhere as this process follows it: a batch's ``Member`` (the driver's
    copy of its log) or a served search's ``Watched`` (a viewer following its log)."""

    name: str
    log: Path
    tree: Tree  # folded from the log as it comes, under ``lock``
    lock: threading.Lock
    listeners: list  # called with each new event, under ``lock``
    status: dict  # the worker's last status (engine state, budget, scorers...)
    node: str  # the Ray node it runs on, or ""
    reason: str

    @property
    def state(self) -> str: ...

    @property
    def done(self) -> bool: ...

    def events_so_far(self) -> list[dict]:
        """The events folded so far (``lock`` held)."""


class Channel(Protocol):
    """Where a person's commands go: the batch's driver, or a served search's control socket.
    Raises RuntimeError with the worker's answer when the command is refused."""

    def command(self, member, name: str, *args, **kwargs) -> None: ...


class ForwardedCommands:
    """A person's commands (``engine.live.PersonCommands``), each sent by name to the worker,
    which runs it on its Session's own commands: the arguments are checked there."""

    def __init__(self, channel: Channel, member: Followed) -> None:
        self._channel, self._member = channel, member

    def _send(self, name: str, *args, **kwargs) -> None:
        self._channel.command(self._member, name, *args, **kwargs)

    def pause(self) -> None:
        self._send("pause")

    def resume(self) -> None:
        self._send("resume")

    def prune(self, node_id: str, reason: str = "pruned by hand") -> None:
        self._send("prune", node_id, reason=reason)

    def unprune(self, node_id: str) -> None:
        self._send("unprune", node_id)

    def promote(self, node_id: str) -> None:
        self._send("promote", node_id)

    def resample(self, node_id: str, n: int = 1, hint: str | None = None) -> None:
        self._send("resample", node_id, n=n, hint=hint)

    def edit(self, node_id: str, action: dict) -> None:
        self._send("edit", node_id, action)

    def submit(self, node_id: str) -> None:
        self._send("submit", node_id)

    def raise_budget(self, nodes: int = 0, tokens: int = 0, cost: float = 0.0, wall_s: float = 0.0) -> None:
        self._send("raise_budget", nodes=nodes, tokens=tokens, cost=cost, wall_s=wall_s)


class WorkerBudget:
    """The worker's limits as its last status gave them, on the worker's clock: a budget made
    on each read started its clock then, and a worker 420 s in showed 0 s used."""

    def __init__(self) -> None:
        self.nodes: int | None = None
        self.tokens: int | None = None
        self.cost: float | None = None
        self.wall_s: float | None = None
        self.started = time.monotonic()

    def follow(self, limits: dict) -> None:
        """Take the limits and the used time of a new status (the clock is set as of its arrival)."""
        self.nodes, self.tokens = limits.get("nodes"), limits.get("tokens")
        self.cost, self.wall_s = limits.get("cost"), limits.get("wall_s")
        used = limits.get("used_wall_s")
        if isinstance(used, (int, float)):
            self.started = time.monotonic() - used

    def used(self, tree: Tree) -> dict:
        return usage(tree, self.started)


@dataclass(frozen=True)
class ScorerName:
    """A scorer of the remote search, known by its name only (it runs on the worker)."""

    name: str


class RemoteSession:
    """A search of the fleet or a served search, as an ``engine.live.LiveSearch``."""

    def __init__(self, channel: Channel, member: Followed) -> None:
        self.channel, self.member = channel, member
        self.commands = ForwardedCommands(channel, member)
        self._verifying: dict[str, str] = {}
        self._budget, self._budget_from = WorkerBudget(), None

    def _status(self, key: str, default=None):
        return self.member.status.get(key, default)

    @property
    def tree(self) -> Tree:
        return self.member.tree

    @property
    def log_path(self) -> Path:
        return self.member.log

    @property
    def strategy_name(self) -> str:
        return str(self._status("strategy", "") or "")

    @property
    def phase(self) -> str:
        return str(self._status("phase", "") or "")

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
    def budget(self) -> WorkerBudget:
        status = self.member.status
        if status is not self._budget_from:  # a new status: its limits and its clock
            self._budget_from = status
            self._budget.follow(status.get("budget") or {})
        return self._budget

    @property
    def scorers(self) -> list[ScorerName]:
        return [ScorerName(str(name)) for name in self._status("scorers", []) or []]

    @property
    def sandbox_kind(self) -> str:
        """As the worker's ``run_started`` recorded it ("" before the log says)."""
        return str(self.member.tree.config.get("sandbox") or "")

    @property
    def verifying(self) -> dict[str, str]:
        self._verifying.clear()
        self._verifying.update(self._status("verifying", {}) or {})
        return self._verifying

    def subscribe(self, listener: Callable[[dict], None]) -> list[dict]:
        member = self.member
        with member.lock:
            events = member.events_so_far()
            member.listeners.append(listener)
        return events

    def unsubscribe(self, listener: Callable[[dict], None]) -> None:
        with self.member.lock:
            if listener in self.member.listeners:
                self.member.listeners.remove(listener)


class RemoteLiveSource(LiveSource):
    """A search of the fleet, opened from the fleet screen (escape goes back to it)."""

    can_go_back = True

    def __init__(self, channel: Channel, member: Followed, read_only: bool = False) -> None:
        super().__init__(RemoteSession(channel, member), read_only=read_only)
        self.member = member

    @property
    def mode(self) -> str:
        member, session = self.member, self.session
        where = f" on {member.node[:12]}" if member.node else ""
        if member.done:
            return f"{member.state}{where}: {member.reason}" if member.reason else f"{member.state}{where}"
        if session.finished and not session.busy:
            return f"finished{where}: {session.finished}"
        return ("paused" if session.paused else "searching") + where


class FleetSource(Source):
    """A batch: the app opens the fleet screen."""

    kind = "fleet"

    def __init__(self, fleet, out: Path) -> None:
        super().__init__(out)
        self.fleet = fleet
