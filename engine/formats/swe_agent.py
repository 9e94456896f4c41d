"""SWE-agent ``.traj`` files: current and older layouts, and retry-agent ``attempts``."""

from __future__ import annotations


from trajscope.engine.actions import action_from_command, make_action
from trajscope.engine.jsonio import loads, shallow, text_of
from trajscope.engine.formats.builder import Importer, RunBuilder, extract_patch


def looks_like(data: object) -> bool:
    return isinstance(data, dict) and (
        isinstance(data.get("trajectory"), list)
        or isinstance(data.get("attempts"), list)
        or (isinstance(data.get("history"), list) and "messages" not in data)
    )


def _text(value: object) -> str:
    if isinstance(value, list):  # content as a list of parts
        return "\n".join(text_of(p.get("text", "")) if isinstance(p, dict) else text_of(p) for p in value)
    return "" if value is None else text_of(value)


def _tool_action(message: dict, command: str) -> dict:
    """The action of a step: the function call when there is one, else the command text."""
    for call in message.get("tool_calls") or []:
        fn = call.get("function") or {}
        args = fn.get("arguments")
        if isinstance(args, str):
            try:
                args = loads(args) if args.strip() else {}
            except ValueError:
                args = {"arguments": args}
        if fn.get("name"):
            return make_action(fn["name"], args if isinstance(args, dict) else {}, raw=command or None)
    return action_from_command(command)


def _steps_from_trajectory(trajectory: list) -> list[dict]:
    steps = []
    for step in trajectory:
        if not isinstance(step, dict):
            continue
        state = step.get("state")
        if isinstance(state, str):  # older files keep the state as a JSON string
            try:
                state = loads(state)
            except ValueError:
                state = {"raw": state}
        messages = step.get("query") or step.get("messages") or []
        last = messages[-1] if messages and isinstance(messages[-1], dict) else {}
        steps.append(
            {
                "command": _text(step.get("action")).strip(),
                "thought": _text(step.get("thought") or step.get("response")),
                "observation": _text(step.get("observation")),
                "duration_s": step.get("execution_time"),
                "state": state,
                "message": last if last.get("role") == "assistant" else {},
            }
        )
    return steps


def _steps_from_history(history: list) -> list[dict]:
    """Demonstration files hold only ``history``: an action message, then its observation."""
    steps: list[dict] = []
    for message in history:
        if not isinstance(message, dict):
            continue
        if message.get("role") == "assistant" and message.get("action") is not None:
            steps.append(
                {
                    "command": _text(message.get("action")).strip(),
                    "thought": _text(message.get("thought") or message.get("content")),
                    "observation": None,
                    "duration_s": None,
                    "state": None,
                    "message": message,
                }
            )
        elif steps and steps[-1]["observation"] is None and message.get("role") in ("user", "tool"):
            steps[-1]["observation"] = _text(message.get("content"))
    return steps


def _problem_statement(history: list) -> str:
    for message in history or []:
        if isinstance(message, dict) and message.get("role") == "user" and not message.get("is_demo"):
            return _text(message.get("content"))
    return ""


def _add_attempt(builder: RunBuilder, attempt: dict, parent: str | None) -> str | None:
    """Adds one attempt as a chain under ``parent``; returns its last node id."""
    trajectory = attempt.get("trajectory")
    steps = (
        _steps_from_trajectory(trajectory)
        if isinstance(trajectory, list)
        else _steps_from_history(attempt.get("history") or [])
    )
    info = attempt.get("info") or {}
    node = parent
    for step in steps:
        action = _tool_action(step["message"], step["command"])
        node = builder.turn(
            node, action, thought=step["thought"], observation=step["observation"] or "", duration_s=step["duration_s"]
        )
        if step["state"]:
            builder.events[-1]["state"] = shallow(step["state"])
    if node is not None and node != parent:
        patch = info.get("submission")
        last = steps[-1]
        if patch is None and last["command"].split()[:1] == ["submit"]:
            patch = extract_patch(last["observation"])
        if patch:
            builder.submit(node, patch.replace("\r\n", "\n").strip("\n") + "\n")
    return node


def _totals(info: dict) -> dict:
    stats = info.get("model_stats") or {}
    cost = stats.get("instance_cost", stats.get("total_cost"))
    return {
        "cost": float(cost or 0.0),
        "tokens_in": int(stats.get("tokens_sent") or 0),
        "tokens_out": int(stats.get("tokens_received") or 0),
        "api_calls": int(stats.get("api_calls") or 0),
    }


def convert(data: dict, name: str) -> list[dict]:
    attempts = data.get("attempts") if isinstance(data.get("attempts"), list) else [data]
    first = attempts[0] if attempts else {}
    history = first.get("history") or []
    task = {"instance_id": name, "problem_statement": _problem_statement(history)}
    config = data.get("replay_config")
    if isinstance(config, str):
        try:
            config = loads(config)
        except ValueError:
            config = None
    statement = (config or {}).get("problem_statement") if isinstance(config, dict) else None
    if isinstance(statement, dict):
        task["instance_id"] = text_of(statement.get("id") or name)
        task["problem_statement"] = text_of(statement.get("text") or task["problem_statement"])
    builder = RunBuilder(name, task, "swe-agent")
    totals: dict = {}
    for attempt in attempts:
        if isinstance(attempt, dict):
            _add_attempt(builder, attempt, None)
            for key, value in _totals(attempt.get("info") or {}).items():
                totals[key] = totals.get(key, 0) + value
    info = data.get("info") or {}
    if isinstance(data.get("attempts"), list):  # retry file: the top may hold the sums
        totals = {k: max(v, totals.get(k, 0)) for k, v in _totals(info).items()}
    exit_status = info.get("exit_status") or (first.get("info") or {}).get("exit_status")
    return builder.finish(exit_status, totals if any(totals.values()) else None)


IMPORTER = Importer("SWE-agent", "no step in `trajectory` and no assistant message in `history`", looks_like, convert)
