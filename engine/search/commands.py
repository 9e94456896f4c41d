"""What a person does while a search runs (docs/architecture.md section 7).

``Commands`` is held by a Session as ``session.commands``. Each command may come
from any thread at any time and is recorded as an event; work it asks for goes to
the front of the Session's queue, and runs even when paused or past the budget.
"""

from __future__ import annotations

from engine.search.strategy import Job
from engine.tree import ROOT


class Commands:
    """A person's commands on one search; they use only the Session's public API."""

    def __init__(self, session) -> None:
        self.session = session

    def _check(self, node_id: str) -> None:
        if node_id not in self.session.tree.nodes:
            raise KeyError(f"no node {node_id!r}")

    def _ask(self, kind: str, node_id: str, **fields) -> None:
        self.session.push(Job(kind, node_id, priority=0, **fields))

    def pause(self) -> None:
        self.session.hold(True)
        self.session.emit("command", name="pause", by="human")

    def resume(self) -> None:
        self.session.emit("command", name="resume", by="human")
        self.session.hold(False)

    def prune(self, node_id: str, reason: str = "pruned by hand") -> None:
        self._check(node_id)
        self.session.emit("node_status", id=node_id, status="pruned", by="human", reason=reason)

    def unprune(self, node_id: str) -> None:
        """Undo a prune: the node is live again, and a rollout goes on from it if it was cut short."""
        self._check(node_id)
        tree = self.session.tree
        node = tree.nodes[node_id]
        if node.status != "pruned":
            raise KeyError(f"node {node_id!r} is not pruned")
        self.session.emit("node_status", id=node_id, status="done", by="human", reason="prune undone")
        cut_short = (not tree.children(node_id) and node.kind != "submit"
                     and node.depth < self.session.config.max_depth)
        if cut_short and not any(n.status in ("pruned", "failed") for n in tree.path(node_id)):
            self._ask("rollout", node_id)

    def promote(self, node_id: str) -> None:
        self._check(node_id)
        self.session.emit("node_status", id=node_id, status="promoted", by="human", reason="promoted by hand")

    def resample(self, node_id: str, n: int = 1, hint: str | None = None) -> None:
        self._check(node_id)
        self.session.emit("branch_requested", parent=node_id, n=n, hint=hint, by="human")
        self._ask("expand", node_id, n=n, hint=hint, by="human")

    def edit(self, node_id: str, action: dict) -> None:
        self._check(node_id)
        if node_id == ROOT:
            raise KeyError("the task itself has no action to edit")
        self.session.emit("command", name="edit", by="human", node=node_id, action=action)
        self._ask("edit", node_id, action=action, by="human")

    def submit(self, node_id: str) -> None:
        self._check(node_id)
        self.session.emit("command", name="submit", by="human", node=node_id)
        self.session.verifying[node_id] = "queued"
        self._ask("submit", node_id, by="human")

    def raise_budget(self, **deltas) -> dict:
        limits = self.session.budget.raise_by(**deltas)
        self.session.emit("command", name="raise_budget", by="human", budget=limits)
        return limits
