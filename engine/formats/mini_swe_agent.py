"""mini-swe-agent trajectories: the ``mini-swe-agent-1.1`` dict (written by 1.x and by 2.x,
whose commands sit in ``extra.actions`` / ``tool_calls``, outputs in ``tool`` messages
with ``extra.returncode``, and a final ``role: "exit"`` message with the exit status
and the submission) and the older bare list."""

from __future__ import annotations

import re

from trajscope.engine.actions import action_from_command
from trajscope.engine.jsonio import loads, text_of
from trajscope.engine.formats.builder import Importer, RunBuilder, extract_patch

_BLOCK = re.compile(r"```(?:bash|sh|mswea_bash_command)?[ \t]*\n(.*?)\n?```", re.DOTALL)
_RETURNCODE = re.compile(r"<returncode>\s*(-?\d+)\s*</returncode>")
_OUTPUT = re.compile(r"<output>\n?(.*?)</output>", re.DOTALL)


def _is_message_list(data: object) -> bool:
    return (
        isinstance(data, list)
        and bool(data)
        and all(isinstance(m, dict) and "role" in m and "content" in m for m in data)
    )


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


def _commands(message: dict) -> list[tuple[str, str | None]]:
    """The commands of one assistant turn, each with its tool call id: 2.x keeps them in
    ``extra.actions`` (and tool calls in ``tool_calls``); 1.x and text-based models in a
    fenced block of the content."""
    extra = message.get("extra") if isinstance(message.get("extra"), dict) else {}
    actions = extra.get("actions")
    if isinstance(actions, list) and actions:
        found = [(text_of(a.get("command", "")), a.get("tool_call_id")) for a in actions if isinstance(a, dict)]
        if found:
            return found
    calls = message.get("tool_calls")
    if isinstance(calls, list) and calls:
        found = []
        for call in calls:
            function = call.get("function") if isinstance(call, dict) else None
            if not isinstance(function, dict):
                continue
            try:
                args = loads(function.get("arguments") or "{}")
            except ValueError:
                args = {}
            command = args.get("command") if isinstance(args, dict) else None
            found.append((text_of(command or function.get("arguments") or ""), call.get("id")))
        if found:
            return found
    blocks = _BLOCK.findall(_text(message.get("content")))
    return [(blocks[0].strip(), None)] if blocks else [("", None)]


def _thought(message: dict) -> str:
    content = _text(message.get("content"))
    if "```" not in content:
        return content.strip()
    return content[: content.find("```")].strip() if "```" in content else content.strip()


def _observation(message: dict) -> tuple[str, int | None]:
    """What a command printed and its exit code: 2.x keeps them in ``extra``; the content is
    ``<returncode>..</returncode><output>..</output>`` (1.x, text-based) or a JSON object."""
    content = _text(message.get("content"))
    extra = message.get("extra") if isinstance(message.get("extra"), dict) else {}
    code = extra.get("returncode")
    if "raw_output" in extra:
        output = text_of(extra.get("raw_output") or "")
    else:
        output = content
        if content.lstrip().startswith("{"):
            try:
                parsed = loads(content)
            except ValueError:
                parsed = None
            if isinstance(parsed, dict) and "output" in parsed:
                output, code = text_of(parsed.get("output") or ""), parsed.get("returncode", code)
        found = _OUTPUT.search(content)
        output = found.group(1) if found else output
    if code is None:
        found = _RETURNCODE.search(content)
        code = int(found.group(1)) if found else None
    if isinstance(extra.get("exception_info"), str) and extra["exception_info"]:
        output = f"{output}\n{extra['exception_info']}".strip()
    return output, code if isinstance(code, int) else None


def convert(data: object, name: str) -> list[dict]:
    if isinstance(data, dict):
        messages, info = data.get("messages") or [], data.get("info") or {}
        instance = data.get("instance_id") or info.get("instance_id") or name
    else:
        messages, info, instance = data, {}, name
    messages = [m for m in messages if isinstance(m, dict)]
    users = [m for m in messages if m.get("role") == "user"]
    task = {"instance_id": text_of(instance), "problem_statement": _text(users[0]["content"]) if users else ""}
    builder = RunBuilder(text_of(instance), task, "mini-swe-agent")
    model = (
        ((info.get("config") or {}).get("model") or {}).get("model_name")
        if isinstance(info.get("config"), dict)
        else None
    )
    if model:
        builder.events[0]["config"]["model"] = text_of(model)
    parent = None
    waiting: list[dict] = []  # commands of the last assistant turn, waiting for their outputs
    exit_status = submission = None

    def add(turn: dict, observation: str | None, exit_code: int | None) -> None:
        nonlocal parent
        parent = builder.turn(
            parent,
            action_from_command(turn["command"]),
            thought=turn["thought"],
            observation=observation,
            exit_code=exit_code,
            tokens_in=turn["tokens"][0],
            tokens_out=turn["tokens"][1],
            cost=turn["tokens"][2],
        )

    def flush() -> None:
        while waiting:
            turn = waiting.pop(0)
            add(turn, "" if turn["last"] else None, None)

    seen_task = False
    for message in messages:
        role = message.get("role")
        if role == "assistant":
            flush()
            usage = _usage(message)
            commands = _commands(message)
            for i, (command, call_id) in enumerate(commands):
                waiting.append(
                    {
                        "command": command,
                        "id": call_id,
                        "thought": _thought(message) if i == 0 else "",
                        "tokens": usage if i == 0 else (0, 0, 0.0),
                        "last": False,
                    }
                )
        elif role in ("user", "tool"):
            if waiting:
                call_id = message.get("tool_call_id")
                index = next((i for i, t in enumerate(waiting) if call_id and t["id"] == call_id), 0)
                turn = waiting.pop(index)
                add(turn, *_observation(message))
            elif seen_task:
                continue
            seen_task = True
        elif role == "exit":
            extra = message.get("extra") if isinstance(message.get("extra"), dict) else {}
            exit_status, submission = extra.get("exit_status"), extra.get("submission")
            for turn in waiting:  # the command that submitted has no output message of its own
                turn["last"] = True
    while waiting:
        turn = waiting.pop(0)
        add(turn, (submission or "") if turn["last"] else None, 0 if turn["last"] else None)
    last = builder.events[-1] if parent else None
    patch = text_of(submission or info.get("submission") or "")
    if parent and not patch and last and last.get("type") == "node_executed":
        added = next(e for e in reversed(builder.events) if e["type"] == "node_added")
        if "FINAL_OUTPUT" in (added["action"].get("raw") or ""):
            patch = extract_patch(last.get("observation"))
    status = text_of(exit_status or info.get("exit_status") or "")
    # mini.yaml's workflow submits with the marker alone: the submission is empty (the change
    # stays in the working tree), yet the agent submitted, and the run says so.
    if parent and (patch or status == "Submitted"):
        builder.submit(parent, patch)
    stats = info.get("model_stats") or {}
    totals = {"cost": float(stats.get("instance_cost") or 0.0), "api_calls": int(stats.get("api_calls") or 0)}
    return builder.finish(status or ("Submitted" if patch else None), totals if any(totals.values()) else None)


IMPORTER = Importer("mini-swe-agent", "no assistant message in `messages`", looks_like, convert)
