"""OpenHands: a saved trajectory (a bare event list, or ``{"trajectory": [...]}``), one line of
an evaluation ``output.jsonl`` (``instance_id``, ``history``, ``metrics``,
``test_result.git_patch``, ``error``), a session's ``events/`` folder (one event a file), and
older files whose ``history`` is ``[action, observation]`` pairs or a flat list of both.

Events carry ``id``, ``source``, ``action`` + ``args`` or ``observation`` + ``content`` +
``extras``, and ``cause`` (the id of the action an observation answers). Token and cost
figures (``llm_metrics``) are cumulative: a step gets the difference from the last one.
"""

from __future__ import annotations

from trajscope.engine.actions import action_from_command, make_action
from trajscope.engine.formats.builder import Importer, RunBuilder
from trajscope.engine.jsonio import text_of

# Events that are not a step of the agent.
_NOT_STEPS = {"system", "recall", "change_agent_state", "condensation", "condensation_request", "null"}
# OpenHands actions, as trajscope tools (edits keep OpenHands' editor command).
_EDITOR = ("edit", "str_replace_editor", "write")


def _is_event(item: object) -> bool:
    """An OpenHands event: an action or an observation, never both (a SWE-agent step has both)."""
    if not isinstance(item, dict) or "role" in item or ("action" in item) == ("observation" in item):
        return False
    if "action" in item:
        return isinstance(item["action"], str) and any(
            k in item for k in ("args", "source", "thought", "command", "content")
        )
    return isinstance(item["observation"], str) and any(k in item for k in ("content", "extras", "cause"))


def _flatten(history: list) -> list[dict]:
    """Events from any history layout: events, [action, observation] pairs, or both mixed."""
    out = []
    for item in history:
        if isinstance(item, (list, tuple)):
            out.extend(e for e in item if isinstance(e, dict))
        elif isinstance(item, dict):
            out.append(item)
    return out


def _events_of(data: object) -> list[dict] | None:
    if isinstance(data, list):
        events = _flatten(data)
    elif isinstance(data, dict) and isinstance(data.get("trajectory"), list):
        events = _flatten(data["trajectory"])
    elif isinstance(data, dict) and isinstance(data.get("history"), list):
        events = _flatten(data["history"])
    else:
        return None
    return events if events and sum(_is_event(e) for e in events[:50]) >= min(2, len(events)) else None


def looks_like(data: object) -> bool:
    return _events_of(data) is not None


def _args(event: dict) -> dict:
    args = event.get("args")
    return args if isinstance(args, dict) else event  # older files keep the arguments at the top


def _action(event: dict) -> tuple[dict, str]:
    """The trajscope action of an OpenHands action event, and its thought."""
    name = text_of(event.get("action") or "")
    args = _args(event)
    thought = text_of(args.get("thought") or "")
    if name in ("run", "run_ipython"):
        code = text_of(args.get("command") or args.get("code") or "")
        return (
            action_from_command(code) if name == "run" else make_action("ipython", {"code": code}, raw=code)
        ), thought
    if name == "read":
        path = text_of(args.get("path") or "")
        return make_action("view", {"path": path}, raw=f"view {path}"), thought
    if name in _EDITOR:
        command = text_of(
            args.get("command") or ("create" if name == "write" or args.get("file_text") else "str_replace")
        )
        fields = {
            k: v
            for k, v in args.items()
            if k in ("path", "old_str", "new_str", "file_text", "insert_line", "view_range") and v not in (None, "")
        }
        if name == "write" and "content" in args:
            fields["file_text"] = text_of(args["content"])
        path = text_of(args.get("path") or "")
        return make_action(
            "str_replace_editor", {"command": command, **fields}, raw=f"{command} {path}".strip()
        ), thought
    if name == "finish":
        message = text_of(args.get("final_thought") or args.get("outputs") or args.get("message") or "")
        return make_action("submit", {}, raw="submit"), thought or message
    if name == "think":
        return make_action("think", {"thought": thought}, raw="think"), thought
    if name == "message":
        content = text_of(args.get("content") or event.get("message") or "")
        return make_action("message", {"content": content}, raw=f"message: {content[:200]}"), ""
    if name == "browse" or name == "browse_interactive":
        target = text_of(args.get("url") or args.get("browser_actions") or "")
        return make_action(name, {"target": target}, raw=f"{name} {target}"), thought
    return make_action(
        name or "action", {k: v for k, v in args.items() if k != "thought"}, raw=name or "action"
    ), thought


def _exit_code(event: dict) -> int | None:
    extras = event.get("extras") if isinstance(event.get("extras"), dict) else {}
    metadata = extras.get("metadata") if isinstance(extras.get("metadata"), dict) else {}
    for value in (metadata.get("exit_code"), extras.get("exit_code"), event.get("exit_code")):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def _metrics(event: dict) -> tuple[int, int, float] | None:
    metrics = event.get("llm_metrics")
    if not isinstance(metrics, dict):
        return None
    usage = metrics.get("accumulated_token_usage") if isinstance(metrics.get("accumulated_token_usage"), dict) else {}
    try:
        return (
            int(usage.get("prompt_tokens") or 0),
            int(usage.get("completion_tokens") or 0),
            float(metrics.get("accumulated_cost") or 0.0),
        )
    except (TypeError, ValueError):
        return None


def problem(events: list[dict]) -> str:
    """The task: the user's first message (the first message of all in older files)."""
    for event in events:
        if event.get("action") == "message" and event.get("source") in ("user", None):
            return text_of(_args(event).get("content") or event.get("message") or "")
    return ""


def convert(data: object, name: str) -> list[dict]:
    events = _events_of(data) or []
    line = data if isinstance(data, dict) else {}
    instance = text_of(line.get("instance_id") or name)
    statement = problem(events)
    if not statement and isinstance(line.get("instance"), dict):
        statement = text_of(line["instance"].get("problem_statement") or "")
    builder = RunBuilder(instance, {"instance_id": instance, "problem_statement": statement}, "openhands")
    metadata = line.get("metadata") if isinstance(line.get("metadata"), dict) else {}
    llm = metadata.get("llm_config") if isinstance(metadata.get("llm_config"), dict) else {}
    if llm.get("model") or metadata.get("agent_class"):
        builder.events[0]["config"] |= {
            "model": text_of(llm.get("model") or ""),
            "agent": text_of(metadata.get("agent_class") or ""),
        }
    answers: dict[object, dict] = {}  # action id -> its observation
    pending: list[dict] = []  # observations without a cause: matched in order (older files)
    for event in events:
        if "observation" in event and "action" not in event:
            if event.get("cause") is not None:
                answers[event["cause"]] = event
            else:
                pending.append(event)
    parent, last_node, used = None, None, (0, 0, 0.0)
    waiting_old = iter(pending)
    for event in events:
        if "action" not in event or text_of(event.get("action")) in _NOT_STEPS:
            continue
        if event.get("source") == "user" or (
            event.get("source") is None and event.get("action") == "message" and last_node is None
        ):
            continue  # the task, or a person's message: not a step of the agent
        action, thought = _action(event)
        answer = answers.get(event.get("id")) if event.get("id") is not None else None
        if (
            answer is None
            and event.get("id") is None
            and text_of(event.get("action")) not in ("finish", "think", "message")
        ):
            answer = next(waiting_old, None)
        tokens = _metrics(event)
        step = (0, 0, 0.0)
        if tokens is not None:
            step = (max(0, tokens[0] - used[0]), max(0, tokens[1] - used[1]), max(0.0, tokens[2] - used[2]))
            used = tokens
        observation = text_of(answer.get("content") or answer.get("message") or "") if answer else None
        if observation is None and text_of(event.get("action")) in ("finish", "think", "message"):
            observation = ""
        parent = last_node = builder.turn(
            parent,
            action,
            thought=thought,
            observation=observation,
            exit_code=_exit_code(answer) if answer else None,
            tokens_in=step[0],
            tokens_out=step[1],
            cost=round(step[2], 6),
        )
    result = line.get("test_result") if isinstance(line.get("test_result"), dict) else {}
    patch = text_of(result.get("git_patch") or line.get("git_patch") or "")
    if last_node and patch.strip():
        builder.submit(last_node, patch)
    error = line.get("error")
    reason = f"error: {text_of(error)[:300]}" if error else ("submitted" if patch.strip() else None)
    totals = {}
    metrics = line.get("metrics") if isinstance(line.get("metrics"), dict) else {}
    if metrics.get("accumulated_cost") is not None:
        try:
            totals["cost"] = float(metrics["accumulated_cost"])
        except (TypeError, ValueError):
            pass
    return builder.finish(reason, totals or None)


IMPORTER = Importer("OpenHands", "no agent action in its events", looks_like, convert)
