"""The Policy protocol and the context a policy proposes from.

A policy sees the task and the path so far (each step's thought, action and
observation) and proposes ``n`` next actions. Proposals carry their own token
counts and cost, so a run log can account for every call.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from trajscope.engine.actions import Action
from trajscope.engine.trace import Step
from trajscope.engine.errors import UserCausedError


class PolicyError(UserCausedError):
    """A policy could not propose an action; the message is the reason the node failed
    (a provider's message may echo the key: it is redacted here, where it enters)."""

    def __init__(self, message: str = "", *args):
        from trajscope.engine.redact import redact

        super().__init__(redact(str(message)), *args)


@dataclass(slots=True)
class Context:
    """What a policy proposes from."""

    task: object  # engine.tasks.Task
    steps: list[Step] = field(default_factory=list)
    hint: str | None = None  # a person's hint for this proposal (re-sample with a hint)
    instructions: str | None = None  # extra instructions, e.g. the DARS resample prompt
    seed: int | None = None
    # an imported run's own conversation for the first ``covered`` steps (engine/branching.py),
    # which a chat policy sends as recorded instead of writing those steps itself
    transcript: list[dict] | None = None
    covered: int = 0

    def key(self) -> str:
        """A short string that identifies the path, for seeded policies."""
        return "|".join(f"{s.action.tool}:{s.action.raw[:80]}" for s in self.steps)


@dataclass(slots=True)
class Proposal:
    """One proposed action and what proposing it cost."""

    action: Action
    thought: str = ""
    tokens_in: int = 0
    tokens_out: int = 0
    cost: float = 0.0
    proposer: str = "policy"
    model: str = ""
    teacher_action: dict | None = None  # DAgger label: what the teacher would do here
    extra: dict = field(default_factory=dict)  # more node_added fields (e.g. which policy acted)

    def event_fields(self) -> dict:
        """The fields of the ``node_added`` event for this proposal."""
        fields = {
            "action": self.action.to_dict(),
            "thought": self.thought,
            "proposer": self.proposer,
            "tokens_in": self.tokens_in,
            "tokens_out": self.tokens_out,
            "cost": self.cost,
        }
        if self.model:
            fields["model"] = self.model
        if self.teacher_action is not None:
            fields["teacher_action"] = self.teacher_action
        return fields | self.extra


@runtime_checkable
class Policy(Protocol):
    name: str

    def propose(self, context: Context, n: int = 1, temperature: float | None = None) -> list[Proposal]:
        """``n`` proposals for the next action, or PolicyError."""
        ...
