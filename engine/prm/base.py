"""The Scorer protocol, what a scorer sees (StepContext), and the scorer registry.

A scorer takes a batch of steps and returns, for each, the probability that its
path resolves the task (0..1). ``evaluate`` is how the search calls any scorer:
it never raises; a scorer that fails gives the neutral score 0.5 with the reason
as its rationale, so a broken scorer cannot stop a search.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from trajscope.engine.actions import Action
from trajscope.engine.trace import Step
from trajscope.engine.errors import UserCausedError

NEUTRAL = 0.5


class ScorerError(UserCausedError):
    """A scorer cannot be made (unknown name, damaged weights); one sentence for the user."""


@dataclass(slots=True)
class StepContext:
    """A candidate step in its context: the issue, the path before it, the action, and what it did."""

    issue: str
    path: list[Step] = field(default_factory=list)
    action: Action = field(default_factory=lambda: Action("bash", {"command": ""}))
    observation: str | None = None  # None before the action has run
    exit_code: int | None = None
    task_id: str = ""
    thought: str = ""  # what the agent said with the action
    patch: str = ""  # the state's diff after the step, where the tree knows it

    @property
    def steps(self) -> list[Step]:
        """The path including the candidate itself."""
        return [*self.path, Step(self.action, self.thought, self.observation or "", self.exit_code)]


@runtime_checkable
class Scorer(Protocol):
    name: str

    def score(self, steps: list[StepContext]) -> list[float]: ...


def evaluate(scorer: Scorer, steps: list[StepContext]) -> list[tuple[float, str | None]]:
    """(score, rationale) per step; a failing scorer gives NEUTRAL with the reason."""
    if not steps:
        return []
    try:
        if hasattr(scorer, "explain"):
            results = list(scorer.explain(steps))
        else:
            results = [(s, None) for s in scorer.score(steps)]
        if len(results) != len(steps):
            raise ValueError(f"gave {len(results)} scores for {len(steps)} steps")
        return [(min(1.0, max(0.0, float(s))), r) for s, r in results]
    except Exception as exc:  # a scorer must never crash the search
        reason = f"{scorer.name} failed: {type(exc).__name__}: {exc}"
        return [(NEUTRAL, reason)] * len(steps)


def has_run(node) -> bool:
    """Whether a node's step ran: it has an exit code, or (an imported step, which records
    none) it is done, submitted or promoted."""
    return node.exit_code is not None or node.status in ("done", "submitted", "promoted")


def contexts(tree, node_ids: list[str]) -> list[StepContext]:
    """StepContexts for nodes of a tree (their own observation included when they ran)."""
    from trajscope.engine.trace import path_steps

    issue = str((tree.task or {}).get("problem_statement") or tree.nodes["root"].observation or "")
    task_id = str((tree.task or {}).get("instance_id") or "")
    out = []
    for node_id in node_ids:
        steps = path_steps(tree, node_id)
        node = tree.nodes[node_id]
        last = steps[-1]
        ran = has_run(node)
        try:
            patch = tree.patch_at(node_id)
        except Exception:  # noqa: BLE001 - a tree without patches: the scorer sees none
            patch = ""
        out.append(
            StepContext(
                issue,
                steps[:-1],
                last.action,
                last.observation if ran else None,
                node.exit_code,
                task_id,
                last.thought,
                patch or "",
            )
        )
    return out
