"""``rubric:<model>``: an LLM judge through litellm with a written rubric.

The rubric follows SWE-TRACE's rubric agent and the behaviours a published
trace analysis of a DSPy coding agent tagged (planning, validation,
self-correction, memory drift, overconfidence, strange loops). The answer is
parsed defensively: a JSON object anywhere in the reply, else a ``score: x``
line (0..1, or 0..10 / percent scaled down); an answer with no readable score
gives the neutral 0.5 with the reason as the rationale.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from string import Template

from trajscope.engine.policy.base import PolicyError
from trajscope.engine.prm.base import NEUTRAL, StepContext
from trajscope.engine.prm.features import clip

RUBRIC = Template((Path(__file__).with_name("prompts_rubric.md")).read_text(encoding="utf-8"))
_JSON = re.compile(r"\{.*?\}", re.DOTALL)
_SCORE = re.compile(r"score\W{0,3}\s*([0-9]*\.?[0-9]+)\s*(%|/\s*10\b|/\s*100\b)?", re.IGNORECASE)


def _render_step(step, observation: str | None = None) -> str:
    obs = step.observation if observation is None else observation
    exit_note = "" if step.exit_code in (0, None) else f" (exit code {step.exit_code})"
    return f"{step.action.raw or step.action.tool}{exit_note}\n{clip(obs or '(not run yet)', 300, 500)}"


def prompt_for(ctx: StepContext) -> str:
    path = "\n\n".join(f"[{i + 1}] {_render_step(s)}" for i, s in enumerate(ctx.path[-20:])) or "(none)"
    last = ctx.steps[-1]
    return RUBRIC.safe_substitute(
        issue=clip(ctx.issue, 3000, 1000), path=path, step=_render_step(last, ctx.observation or "(not run yet)")
    )


def parse_judgement(text: str) -> tuple[float, str]:
    """(score, rationale) from a judge's reply; NEUTRAL with the reason when it has no score."""
    text = text or ""
    for blob in _JSON.findall(text):
        try:
            data = json.loads(blob)
        except ValueError:
            continue
        if isinstance(data, dict) and "score" in data:
            try:
                return _scaled(float(data["score"]), ""), str(data.get("rationale") or "").strip()[:500]
            except (TypeError, ValueError):
                break
    found = _SCORE.search(text)
    if found:
        unit = (found.group(2) or "").replace(" ", "")
        return _scaled(float(found.group(1)), unit), text.strip()[:500]
    return NEUTRAL, f"judge answer unreadable, neutral score: {text.strip()[:120]!r}"


def _scaled(value: float, unit: str) -> float:
    if unit == "%" or unit == "/100" or value > 10:
        value /= 100
    elif unit == "/10" or value > 1:
        value /= 10
    return min(1.0, max(0.0, value))


class RubricScorer:
    def __init__(self, model: str, api_base: str | None = None, api_key: str | None = None, **options):
        from trajscope.engine.policy.llm import LLMPolicy

        self.name = f"rubric:{model}"
        self.llm = LLMPolicy(model, api_base=api_base, api_key=api_key, tool_mode="text", **options)

    def explain(self, steps: list[StepContext]) -> list[tuple[float, str]]:
        out = []
        for ctx in steps:
            try:
                out.append(parse_judgement(self.llm.ask(prompt_for(ctx))))
            except PolicyError as exc:
                out.append((NEUTRAL, f"judge call failed, neutral score: {exc}"))
        return out

    def score(self, steps: list[StepContext]) -> list[float]:
        return [s for s, _ in self.explain(steps)]
