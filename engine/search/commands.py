"""The command API of a Session: what a person does while a search runs (docs/architecture.md section 7).

Each command may come from any thread at any time and is recorded as an event;
work it asks for goes to the front of the Session's queue.
"""

from __future__ import annotations

from engine.tree import ROOT


class Commands:
    """Mixed into Session; uses its ``tree``, ``emit``, ``_push``, ``_running``, ``_cond`` and ``budget``."""

    def pause(self) -> None:
        self._running.clear()
        self.emit("command", name="pause", by="human")

    def resume(self) -> None:
        self.emit("command", name="resume", by="human")
        self._running.set()
        with self._cond:
            self._cond.notify_all()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def _check(self, node_id: str) -> None:
        if node_id not in self.tree.nodes:
            raise KeyError(f"no node {node_id!r}")

    def prune(self, node_id: str, reason: str = "pruned by hand") -> None:
        self._check(node_id)
        self.emit("node_status", id=node_id, status="pruned", by="human", reason=reason)

    def unprune(self, node_id: str) -> None:
        """Undo a prune: the node is live again, and a rollout goes on from it if it was cut short."""
        self._check(node_id)
        node = self.tree.nodes[node_id]
        if node.status != "pruned":
            raise KeyError(f"node {node_id!r} is not pruned")
        self.emit("node_status", id=node_id, status="done", by="human", reason="prune undone")
        tree = self.tree
        cut_short = not tree.children(node_id) and node.kind != "submit" and node.depth < self.config.max_depth
        if cut_short and not any(n.status in ("pruned", "failed") for n in tree.path(node_id)):
            self._push("rollout", node_id, priority=0)

    def promote(self, node_id: str) -> None:
        self._check(node_id)
        self.emit("node_status", id=node_id, status="promoted", by="human", reason="promoted by hand")

    def resample(self, node_id: str, n: int = 1, hint: str | None = None) -> None:
        self._check(node_id)
        self.emit("branch_requested", parent=node_id, n=n, hint=hint, by="human")
        self._push("expand", node_id, priority=0, n=n, hint=hint, by="human")

    def edit(self, node_id: str, action: dict) -> None:
        self._check(node_id)
        if node_id == ROOT:
            raise KeyError("the task itself has no action to edit")
        self.emit("command", name="edit", by="human", node=node_id, action=action)
        self._push("edit", node_id, priority=0, action=action, by="human")

    def submit(self, node_id: str) -> None:
        self._check(node_id)
        self.emit("command", name="submit", by="human", node=node_id)
        self.verifying[node_id] = "queued"
        self._push("submit", node_id, priority=0, by="human")

    def raise_budget(self, **deltas) -> dict:
        limits = self.budget.raise_by(**deltas)
        self.emit("command", name="raise_budget", by="human", budget=limits)
        return limits
