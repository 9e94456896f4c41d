"""PDR: refinement rounds whose rollouts are conditioned on distilled summaries of the last round.

A round's submissions are distilled into one note (each attempt's summary, its
patch in short, and how the PRM rated it; never the hidden tests' verdict), and
the next round's rollouts start from the task with that note in their prompt.
``Refine`` wraps any strategy with such rounds (``--refine-rounds``).
"""

from __future__ import annotations

from trajscope.engine.search.select import path_score, summarize
from trajscope.engine.search.strategy import Job, SearchView, Strategy, origin_of
from trajscope.engine.tree import Tree

NOTE = """Earlier attempts at this issue, distilled. Learn from them: keep what looked promising,
avoid what failed, and do not simply repeat an attempt.

{attempts}"""


def distill(tree: Tree, submitted: list[str], patch_chars: int = 1200) -> str:
    parts = []
    for i, node_id in enumerate(submitted, 1):
        node = tree.nodes[node_id]
        patch = (node.patch or "(empty patch)")[:patch_chars]
        parts.append(
            f"Attempt {i} (PRM {path_score(tree, node_id):.2f}):\n"
            f"{node.summary or summarize(tree, node_id)}\n<patch>\n{patch}\n</patch>"
        )
    return NOTE.format(attempts="\n\n".join(parts) or "(none submitted)")


class Refine(Strategy):
    """PDR around another strategy: when it has nothing left and no work is in flight, a
    new round of rollouts (as many as it starts with) reads the last round's submissions,
    distilled; ``refine_rounds`` rounds."""

    name = "refine"

    def __init__(self, inner: Strategy) -> None:
        self.inner, self.config, self.prune = inner, inner.config, inner.prune
        self.round, self.refined = 0, set()

    @property
    def phase(self) -> str:
        return self.inner.phase

    @property
    def width(self) -> int:
        return self.inner.width

    def end_reason(self, tree: Tree) -> str | None:
        return self.inner.end_reason(tree)

    def expansion_prompt(self, tree: Tree, node_id: str) -> str:
        return self.inner.expansion_prompt(tree, node_id)

    def choose(self, session, parent: str, proposals: list) -> tuple[int, dict]:
        return self.inner.choose(session, parent, proposals)

    def next_jobs(self, search: SearchView) -> list[Job]:
        jobs = self.inner.next_jobs(search)
        if jobs or self.round >= self.config.refine_rounds or search.busy:
            return jobs
        tree = search.tree
        self.round += 1
        last = [n for n in tree.nodes if tree.nodes[n].status == "submitted" and n not in self.refined]
        self.refined.update(last)
        note = distill(tree, last)
        search.emit("command", name="refine_round", by="engine", round=self.round, note=note)
        return [Job("rollout", origin_of(search), instructions=note) for _ in range(self.width)]
