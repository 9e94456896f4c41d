"""How a reward checkpoint wants a step written, and where its reward is read: the presets of
``hf:DIR?preset=NAME`` (and ``vllm:``).

- ``default``: the issue and the steps so far as the user's turn, the candidate step (its
  action and output) as the assistant's, through the tokenizer's chat template (plain text
  without one); the reward from a classification head.
- ``judge``: the YES/NO verifiers of R2E-Gym (``R2EGym-Verifier``) and SWE-Gym
  (``OpenHands-32B-Verifier``), causal language models fine-tuned to answer
  ``<judgement>YES</judgement>`` or ``NO`` after an interaction log laid out as in their
  published training data (R2E-Gym's ``traj2verifier_data``: a judge system prompt, then
  ``[STEP]``/``[ASSISTANT]``/``[USER]`` blocks, the final patch, the question). The reward is
  P(YES) / (P(YES) + P(NO)) for the token after ``<judgement>``. The patch is the state's
  diff after the candidate step, as far as the tree knows it.
- ``openhands-critic``: OpenHands Critic 4B (Qwen3, 26-label sequence classification trained
  with BCE; ``success`` is label 0), which reads the conversation as chat messages (the issue
  from the user, each action from the assistant, each output as a tool message) with no
  generation prompt, as the OpenHands SDK's critic client renders it. The reward is the
  sigmoid of the ``success`` logit.

Every renderer takes the steps already chosen by truncation (``dropped`` oldest middle ones
left out, with a marker) and never loses the candidate.
"""

from __future__ import annotations

from dataclasses import dataclass

from trajscope.engine.trace import Step

MARKER = "[... {n} earlier step(s) left out ...]"

JUDGE_SYSTEM = (
    "You are an expert judge evaluating AI assistant interactions. Your task is to determine if the assistant "
    "successfully resolved the user's request.\n\n"
    "Key evaluation criteria:\n"
    "1. Did the assistant complete the main task requested by the user?\n"
    "2. Did the assistant handle all edge cases and requirements specified?\n"
    "3. Were there any errors or issues in the final solution?\n"
    "4. Did the assistant verify the solution works as intended?\n\n"
    'Respond only with "<judgement>YES</judgement>" or "<judgement>NO</judgement>".'
)
JUDGE_TASK = (
    "You are a software engineer working on a repository. A user has submitted an issue, and you need "
    "to resolve it.\n\nRepository Issue:\n{issue}\n\nPlease analyze the issue and implement a solution."
)
JUDGE_QUESTION = (
    "Based on the above interaction, did the assistant successfully resolve the user's initial "
    "request? Respond with YES or NO."
)


@dataclass(frozen=True, slots=True)
class Preset:
    name: str
    render: str  # plain | judge | conversation
    head: str | None = None  # the head it needs: sequence | token | generative; None: either classifier
    label: str | None = None  # the label read (by the config's id2label), else the default rule
    label_index: int | None = None  # where the label is when the config names none
    sigmoid: bool = False  # per-label sigmoid (multi-label heads), not a softmax across labels
    answer_prefix: str = ""  # generative: written after the generation prompt
    yes: str = "YES"
    no: str = "NO"


PRESETS = {
    "default": Preset("default", "plain"),
    "judge": Preset("judge", "judge", head="generative", answer_prefix="<judgement>"),
    "openhands-critic": Preset(
        "openhands-critic", "conversation", head="sequence", label="success", label_index=0, sigmoid=True
    ),
}


def step_text(step: Step) -> str:
    """A step as the default rendering writes it: the action, its exit code when not 0, its output."""
    exit_note = "" if step.exit_code in (0, None) else f" (exit code {step.exit_code})"
    return f"{step.action.raw or step.action.tool}{exit_note}\n{step.observation or '(not run yet)'}"


def _said(step: Step) -> str:
    action = step.action.raw or step.action.tool
    return f"{step.thought}\n\n{action}" if step.thought else action


def render(
    preset: Preset,
    tokenizer,
    chat: bool,
    issue: str,
    steps: list[tuple[int, Step]],
    dropped: int,
    candidate: tuple[int, Step],
    patch: str,
) -> str:
    """The text the checkpoint reads: ``steps`` are (number, step) pairs kept by truncation."""
    if preset.render == "judge":
        return _judge(preset, tokenizer, chat, issue, steps, dropped, candidate, patch)
    if preset.render == "conversation":
        return _conversation(tokenizer, chat, issue, steps, dropped, candidate)
    listed = ([MARKER.format(n=dropped)] if dropped else []) + [f"[{i + 1}] {step_text(s)}" for i, s in steps]
    steps_text = "\n\n".join(listed) or "(none)"
    cand = step_text(candidate[1])
    if chat:
        messages = [
            {"role": "user", "content": f"Issue:\n{issue}\n\nSteps so far:\n{steps_text}"},
            {"role": "assistant", "content": cand},
        ]
        return tokenizer.apply_chat_template(messages, tokenize=False)
    return f"Issue:\n{issue}\n\nSteps so far:\n{steps_text}\n\nCandidate step:\n{cand}"


def _judge(preset, tokenizer, chat, issue, steps, dropped, candidate, patch) -> str:
    parts = [
        "Please evaluate the following interaction between an AI assistant and a user:\n\n",
        "=== INTERACTION LOG ===\n\n",
        f"[SYSTEM]\n{JUDGE_SYSTEM}\n[/SYSTEM]\n\n",
        f"[USER]\n{JUDGE_TASK.format(issue=issue)}\n[/USER]",
    ]
    if dropped:
        parts.append(f"\n\n{MARKER.format(n=dropped)}")
    for i, step in [*steps, candidate]:
        parts.append(
            f"\n\n[STEP]\n{i}\n[/STEP]\n\n[ASSISTANT]\n{_said(step)}\n[/ASSISTANT]"
            f"\n\n[USER]\n{step.observation}\n[/USER]"
        )
    parts.append(
        f"\n\n=== END INTERACTION ===\n\n=== FINAL PATCH ===\n\n[PATCH]\n{patch}\n[/PATCH]"
        f"\n\n=== END FINAL PATCH ===\n\n{JUDGE_QUESTION}"
    )
    user = "".join(parts)
    if chat:
        messages = [{"role": "system", "content": JUDGE_SYSTEM}, {"role": "user", "content": user}]
        prompt = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    else:
        prompt = f"{JUDGE_SYSTEM}\n\n{user}\n\n"
    return prompt + preset.answer_prefix


def _conversation(tokenizer, chat, issue, steps, dropped, candidate) -> str:
    def messages(output_role: str) -> list[dict]:
        out = [{"role": "user", "content": issue}]
        if dropped:
            out.append({"role": "user", "content": MARKER.format(n=dropped)})
        for _, step in [*steps, candidate]:
            out.append({"role": "assistant", "content": _said(step)})
            if step.observation:
                out.append({"role": output_role, "content": step.observation})
        return out

    if not chat:
        return "\n\n".join(f"{m['role']}: {m['content']}" for m in messages("tool"))
    try:
        return tokenizer.apply_chat_template(messages("tool"), tokenize=False, add_generation_prompt=False)
    except Exception:  # noqa: BLE001 - a template without a tool role: outputs as the user's turns
        return tokenizer.apply_chat_template(messages("user"), tokenize=False, add_generation_prompt=False)
