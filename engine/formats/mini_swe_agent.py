"""mini-swe-agent trajectories: the ``mini-swe-agent-1.1`` dict and the older bare list."""

from __future__ import annotations

import re

from engine.actions import action_from_command
from engine.jsonio import text_of
from engine.formats.builder import RunBuilder, extract_patch

_BLOCK = re.compile(r"```(?:bash|sh|mswea_bash_command)?[ \t]*\n(.*?)\n?```", re.DOTALL)
_RETURNCODE = re.compile(r"<returncode>\s*(-?\d+)\s*</returncode>")
_OUTPUT = re.compile(r"<output>\n?(.*?)</output>", re.DOTALL)


def _is_message_list(data: object) -> bool:
    return (isinstance(data, list) and bool(data)
            and all(isinstance(m, dict) and "role" in m and "content" in m for m in data))


def looks_like(data: object) -> bool:
    if _is_message_list(data):
        return True
    return isinstance(data, dict) and (
        text_of(data.get("trajectory_format", "")).startswith("mini-swe-agent")
        or (isinstance(data.get("messages"), list) and isinstance(data.get("info"), dict))
    )


def _text(content: object) -> str:
    if isinstance(content, list):
        return "\n".join(text_of(p.get("text", "")) if isinstance(p, dict) else text_of(p) for p in content)
    return "" if content is None else text_of(content)


def _usage(message: dict) -> tuple[int, int, float]:
    extra = message.get("extra") or {}
    response = extra.get("response") or {}
    usage = (response.get("usage") if isinstance(response, dict) else None) or message.get("usage") or {}
    cost = extra.get("cost") or 0.0
    return int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0), float(cost)


def convert(data: object, name: str) -> list[dict]:
    if isinstance(data, dict):
        messages, info = data.get("messages") or [], data.get("info") or {}
        instance = data.get("instance_id") or info.get("instance_id") or name
    else:
        messages, info, instance = data, {}, name
    users = [m for m in messages if m.get("role") == "user"]
    task = {"instance_id": text_of(instance), "problem_statement": _text(users[0]["content"]) if users else ""}
    builder = RunBuilder(text_of(instance), task, "mini-swe-agent")
    parent = None
    pending: dict | None = None  # the assistant turn waiting for its observation

    def flush(observation: str | None) -> None:
        nonlocal parent, pending
        if pending is None:
            return
        content = _text(pending.get("content"))
        blocks = _BLOCK.findall(content)
        command = blocks[0].strip() if blocks else ""
        thought = content[: content.find("```")].strip() if blocks else content.strip()
        exit_code = None
        if observation is not None:
            code = _RETURNCODE.search(observation)
            exit_code = int(code.group(1)) if code else None
            out = _OUTPUT.search(observation)
            observation = out.group(1) if out else observation
        tokens_in, tokens_out, cost = _usage(pending)
        parent = builder.turn(parent, action_from_command(command), thought=thought,
                              observation=observation or "", exit_code=exit_code,
                              tokens_in=tokens_in, tokens_out=tokens_out, cost=cost)
        pending = None

    seen_task = False
    for message in messages:
        role = message.get("role")
        if role == "assistant":
            flush(None)
            pending = message
        elif role in ("user", "tool"):
            if pending is not None:
                flush(_text(message.get("content")))
            elif seen_task:
                continue
            seen_task = True
    flush(None)
    last = builder.events[-1] if parent else None
    patch = info.get("submission")
    if parent and not patch and last and last.get("type") == "node_executed":
        added = next(e for e in reversed(builder.events) if e["type"] == "node_added")
        if "FINAL_OUTPUT" in (added["action"].get("raw") or ""):
            patch = extract_patch(last.get("observation"))
    if parent and patch:
        builder.submit(parent, patch)
    stats = info.get("model_stats") or {}
    totals = {"cost": float(stats.get("instance_cost") or 0.0),
              "api_calls": int(stats.get("api_calls") or 0)}
    return builder.finish(info.get("exit_status") or ("Submitted" if patch else None),
                          totals if any(totals.values()) else None)
