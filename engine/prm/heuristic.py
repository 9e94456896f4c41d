"""The ``heuristic`` scorer: no model, signals read from the trace.

Test results after the last edit weigh most; then submitting without having run
the tests, edits never run, errors, repeated identical actions and long paths.
Each signal moves a logit; the rationale lists the signals that fired.
"""

from __future__ import annotations

import math

from trajscope.engine.prm.base import StepContext
from trajscope.engine.prm.features import facts


class HeuristicScorer:
    name = "heuristic"

    def explain(self, steps: list[StepContext]) -> list[tuple[float, str]]:
        return [self._one(step) for step in steps]

    def score(self, steps: list[StepContext]) -> list[float]:
        return [s for s, _ in self.explain(steps)]

    def logit(self, context: StepContext) -> float:
        return self._signals(context)[0]

    def _one(self, context: StepContext) -> tuple[float, str]:
        logit, why = self._signals(context)
        return 1 / (1 + math.exp(-logit)), "; ".join(why) or "no signal either way"

    def _signals(self, context: StepContext) -> tuple[float, list[str]]:
        f = facts(context.steps)
        logit, why = 0.0, []

        def add(value: float, reason: str) -> None:
            nonlocal logit
            logit += value
            why.append(f"{reason} ({value:+.1f})")

        if f.test_after_edit is not None:
            passed, failed = f.test_after_edit
            if failed:
                add(-2.0, f"tests fail after the last edit ({failed} failed)")
            elif passed:
                add(1.5, f"tests pass after the last edit ({passed} passed)")
            if f.tests_before_edit and f.tests_before_edit[1] == 0 and passed and not failed:
                add(-0.3, "the tests passed before the edit too, so they may not cover the issue")
        elif f.check_after_edit is not None:
            if f.check_after_edit:
                add(-1.5, f"a check after the last edit fails (exit code {f.check_after_edit})")
            else:
                add(1.0, "a check after the last edit passes")
        elif f.edits:
            add(-0.5, "the last edit has not been run")
        if f.submits:
            if not f.edits:
                add(-2.5, "submits without any change")
            elif f.test_after_edit is None and f.check_after_edit is None:
                add(-1.0, "submits without running anything after the edit")
        if f.candidate_error:
            add(-0.7, "the step ended in an error")
        if f.repeats:
            add(-min(1.5, 0.4 * f.repeats), f"{f.repeats} repeated action{'s' if f.repeats > 1 else ''}")
        if f.steps > 15:
            add(-0.05 * (f.steps - 15), f"a long path ({f.steps} steps)")
        return logit, why
