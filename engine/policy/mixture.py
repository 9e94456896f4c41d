"""DAgger-style mixing of a student and a teacher policy ("Revisiting DAgger").

At each turn the teacher acts with probability ``beta``, else the student. At
every state the student visits, the teacher is asked what it would do too, and
its answer is recorded on the node as ``teacher_action``: a label for training
the student on its own state distribution. Where the teacher acted, its action
is its own label, so every node of a mixture run carries one. (A person editing
an action in the UI fills the same field.)
"""

from __future__ import annotations

import random
import threading

from trajscope.engine.policy.base import Context, Policy, PolicyError, Proposal


def label(proposal: Proposal, by: str) -> dict:
    return proposal.action.to_dict() | {"thought": proposal.thought, "by": by}


class MixturePolicy:
    def __init__(self, student: Policy, teacher: Policy, beta: float = 0.5, seed: int = 0):
        if not 0.0 <= beta <= 1.0:
            raise ValueError("beta must be between 0 and 1")
        self.student, self.teacher, self.beta, self.seed = student, teacher, beta, seed
        self.name = f"mixture of {student.name} (student) and {teacher.name} (teacher), beta {beta:g}"
        # How often each path was asked: a draw depends on the seed, the path and that count,
        # never on how the workers' threads happened to interleave.
        self._asked: dict[str, int] = {}
        self._lock = threading.Lock()

    def propose(self, context: Context, n: int = 1, temperature: float | None = None) -> list[Proposal]:
        key = context.key()
        with self._lock:
            self._asked[key] = asked = self._asked.get(key, 0) + 1
        rng = random.Random(f"{self.seed}|{key}|{asked}")
        if rng.random() < self.beta:
            proposals = self.teacher.propose(context, n, temperature)
            for p in proposals:
                p.teacher_action = label(p, self.teacher.name)
                p.extra["actor"] = "teacher"
            return proposals
        proposals = self.student.propose(context, n, temperature)
        try:
            teacher = self.teacher.propose(context, 1, temperature)[0]
            teacher_action = label(teacher, self.teacher.name)
            # The label's cost is part of what this node cost.
            proposals[0].tokens_in += teacher.tokens_in
            proposals[0].tokens_out += teacher.tokens_out
            proposals[0].cost += teacher.cost
        except PolicyError as exc:
            teacher_action = {"error": str(exc), "by": self.teacher.name}
        for p in proposals:
            p.teacher_action = teacher_action
            p.extra["actor"] = "student"
        return proposals
