"""The conversation an imported agent had, as its format recorded it, step by step: what a
model continues when a search branches from one of its steps (docs/architecture.md
section 5, "From an imported run").

mini-swe-agent keeps its ``messages``; SWE-agent its ``history``. Each becomes a
``Transcript``: the messages before the first step (system prompt, task) and, per step
along the run, the messages that step added (the assistant turn with the first of its
commands, and each command's output). Only the fields a chat API reads are kept. A
format that keeps no messages, or whose messages do not line up one assistant turn to
the steps trajscope imported, has no transcript (the policy writes the path itself).
A recorded output is cut as a live one is (``cap_recorded``): a 20 MB observation would
otherwise go to the model in every request.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from trajscope.engine.formats.mini_swe_agent import _commands
from trajscope.engine.jsonio import text_of
from trajscope.engine.sandbox.base import OUTPUT_CAP, cap_output

_FIELDS = ("role", "content", "tool_calls", "tool_call_id", "name")


def cap_recorded(text: str | None) -> str | None:
    """A recorded output cut to the bound live output has (``OUTPUT_CAP``, head and tail),
    saying it was cut and where the whole of it is."""
    if not isinstance(text, str) or len(text) <= OUTPUT_CAP:
        return text
    capped, _ = cap_output(text)
    return capped.replace("the full output is saved", "the whole output is in the imported run")


@dataclass
class Transcript:
    head: list[dict]
    turns: list[list[dict]] = field(default_factory=list)  # one per step, in order
    complete: list[bool] = field(default_factory=list)  # every call of the step's assistant turn answered by it

    def upto(self, steps: int) -> tuple[list[dict], int]:
        """The messages of the first ``steps`` steps, cut back to the last step that ends a whole
        assistant turn (a chat API refuses a tool call without its answer), and the steps kept."""
        kept = min(steps, len(self.turns))
        while kept > 0 and not self.complete[kept - 1]:
            kept -= 1
        return [m for turn in [self.head, *self.turns[:kept]] for m in turn], kept


def _clean(message: dict) -> dict:
    out = {k: message[k] for k in _FIELDS if message.get(k) is not None}
    if out.get("role") == "tool" and "tool_call_id" not in out and message.get("tool_call_ids"):
        out["tool_call_id"] = text_of(message["tool_call_ids"][0])
    if isinstance(out.get("tool_calls"), list):
        out["tool_calls"] = [
            {k: c[k] for k in ("id", "type", "function") if k in c} for c in out["tool_calls"] if isinstance(c, dict)
        ]
    out.setdefault("content", "")
    return out


def _mini(messages: list) -> Transcript | None:
    messages = [m for m in messages if isinstance(m, dict) and m.get("role") != "exit"]
    first = next((i for i, m in enumerate(messages) if m.get("role") == "assistant"), None)
    if first is None:
        return None
    t = Transcript([_clean(m) for m in messages[:first]])
    i = first
    while i < len(messages):
        assistant = messages[i]
        outputs = []
        i += 1
        while i < len(messages) and messages[i].get("role") != "assistant":
            outputs.append(_clean(messages[i]))
            i += 1
        n = len(_commands(assistant))
        for k in range(n):
            turn = ([_clean(assistant)] if k == 0 else []) + (outputs[k : k + 1] if k < len(outputs) else [])
            if k == n - 1:
                turn += outputs[n:]
            t.turns.append(turn)
            t.complete.append(k == n - 1 and len(outputs) >= n)
    return t


def _swe_agent(history: list) -> Transcript | None:
    history = [m for m in history if isinstance(m, dict)]
    first = next((i for i, m in enumerate(history) if m.get("role") == "assistant"), None)
    if first is None:
        return None
    t = Transcript([_clean(m) for m in history[:first]])
    for m in history[first:]:
        if m.get("role") == "assistant":
            t.turns.append([_clean(m)])
            t.complete.append(True)
        elif t.turns:
            t.turns[-1].append(_clean(m))
    return t


def transcript(data: object, fmt: str, steps: int) -> Transcript | None:
    """The recorded conversation of ``data`` (a parsed file of format ``fmt``) when it lines up
    with the ``steps`` steps trajscope imported along its first path; else None."""
    found = None
    if fmt == "mini-swe-agent":
        found = _mini(data if isinstance(data, list) else (data.get("messages") or []))
    elif fmt == "swe-agent" and isinstance(data, dict) and isinstance(data.get("history"), list):
        found = _swe_agent(data["history"])
    if found is None or len(found.turns) != steps:
        return None
    for turn in found.turns:
        for message in turn:
            if message["role"] != "assistant":  # a tool's output (mini-swe-agent 1.x: a user turn)
                message["content"] = cap_recorded(message["content"])
    return found
