"""What views and commands ask of a folded tree: a node's patch and path, the tree's order,
its leaves and best leaf, a search, and the counts the status bar shows. A mixin of
``engine.tree.Tree``, kept apart from the fold that builds the tree from events."""

from __future__ import annotations

from collections.abc import Iterator

from trajscope.engine.node import ROOT, Node


class TreeQueries:
    """Queries of ``Tree`` (its ``nodes``, ``graph`` and the counts the fold keeps)."""

    def patch_at(self, node_id: str) -> str:
        """The patch of the state at ``node_id``: the diff from the base to that state,
        whatever the node's own action did (a test run below an edit still has the
        edit's patch). It is recorded on the nodes whose step changed the state (and on
        submissions), so it is the nearest one on the path up; "" at the base state."""
        cache, walked = self._patch_from, []
        node = self.nodes.get(node_id)
        found = ""
        while node is not None and node.id != ROOT:
            if node.patch is not None:
                found = node.patch
                break
            if node.id in cache:  # the nearest recorded patch above is known: no walk to the task
                found = cache[node.id]
                break
            walked.append(node.id)
            node = self.nodes.get(node.parent)
        for walked_id in walked:
            cache[walked_id] = found
        return found

    def path(self, node_id: str) -> list[Node]:
        """Nodes from the root's first child down to ``node_id``."""
        out = []
        node = self.nodes.get(node_id)
        while node is not None and node.id != ROOT:
            out.append(node)
            node = self.nodes.get(node.parent)
        return out[::-1]

    def preorder(self, start: str = ROOT) -> Iterator[str]:
        """Depth-first order, children in the order they were added."""
        stack = [start]
        succ = self.graph.succ
        while stack:
            node_id = stack.pop()
            yield node_id
            stack.extend(reversed(list(succ[node_id])))

    def leaves(self) -> list[str]:
        succ = self.graph.succ
        return [n for n in self.nodes if n != ROOT and not succ[n]]

    def best_leaf(self) -> str | None:
        """The live leaf with the highest score (ties to the shallower one); pruned and
        failed leaves do not count."""
        best, best_key = None, None
        for leaf in self.leaves():
            score = self.nodes[leaf].score
            if score is None or self.nodes[leaf].status in ("pruned", "failed"):
                continue
            key = (score, -self.nodes[leaf].depth)
            if best_key is None or key > best_key:
                best, best_key = leaf, key
        return best

    def search(self, query: str, nodes: list[Node] | None = None) -> list[str]:
        """Ids of nodes whose action, thought or observation contains ``query``.

        In tree order, or in the order of ``nodes`` (a snapshot a worker thread can
        walk while the fold goes on).
        """
        needle = query.casefold()
        if not needle:
            return []
        if nodes is None:
            nodes = [self.nodes[n] for n in self.preorder()]
        hits = []
        for node in nodes:
            raw = (node.action or {}).get("raw") or ""
            if needle in raw.casefold() or needle in node.thought.casefold() or needle in node.observation.casefold():
                hits.append(node.id)
        return hits

    def stats(self) -> dict:
        """Counts for ``trajscope stats`` and the status bar (cheap: kept by the fold)."""
        # Some formats only know run totals; never report less than them.
        tokens_in = max(self.tokens_in, int(self.totals.get("tokens_in") or 0))
        tokens_out = max(self.tokens_out, int(self.totals.get("tokens_out") or 0))
        cost = max(self.cost, float(self.totals.get("cost") or 0.0))
        status = self.status_counts
        resolved = sum(
            1 for n in map(self.nodes.__getitem__, self._submitted) if n.status == "submitted" and n.resolved
        )
        return {
            "run": self.run,
            "task": self.title,
            "nodes": len(self),
            "leaves": self.n_leaves,
            "max_depth": self.max_depth,
            "branch_points": self.n_branch_points,
            "submissions": status.get("submitted", 0),
            "resolved": resolved,
            "pruned": status.get("pruned", 0),
            "failed": status.get("failed", 0),
            "running": status.get("running", 0),
            "tokens_in": tokens_in,
            "tokens_out": tokens_out,
            "tokens": tokens_in + tokens_out,
            "cost": round(cost, 6),
            "finished": self.finished,
        }
