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


class Conversion:
    """A mini-swe-agent trajectory converted one message at a time, so a reader can hand
    the first steps on before the rest of the file is read (engine/formats/progressive.py).

    ``info`` is the document's ``info`` (it comes before ``messages`` in what mini writes);
    ``task`` the first user message when the caller already knows it (a whole read)."""

    def __init__(self, name: str, info: dict, task: str | None = None) -> None:
        self.name, self.info, self.task = name, info, task
        self.builder: RunBuilder | None = None
        self.parent: str | None = None
        self.waiting: list[dict] = []  # commands of the last assistant turn, waiting for their outputs
        self.exit_status = self.submission = None
        self.seen_task = False
        self.steps = 0
        self.last_added: dict | None = None  # the last node_added and last event handed out: finish reads them
        self.last_event: dict | None = None

    def _builder(self) -> RunBuilder:
        if self.builder is None:
            info = self.info
            instance = text_of(info.get("instance_id") or self.name)
            builder = RunBuilder(
                instance, {"instance_id": instance, "problem_statement": self.task or ""}, "mini-swe-agent"
            )
            config = info.get("config")
            model = ((config.get("model") or {}).get("model_name")) if isinstance(config, dict) else None
            if model:
                builder.events[0]["config"]["model"] = text_of(model)
            self.builder = builder
        return self.builder

    def _add(self, turn: dict, observation: str | None, exit_code: int | None) -> None:
        self.steps += 1
        self.parent = self._builder().turn(
            self.parent,
            action_from_command(turn["command"]),
            thought=turn["thought"],
            observation=observation,
            exit_code=exit_code,
            tokens_in=turn["tokens"][0],
            tokens_out=turn["tokens"][1],
            cost=turn["tokens"][2],
        )

    def feed(self, message: object) -> None:
        """Fold one message of ``messages`` in."""
        if not isinstance(message, dict):
            return
        waiting = self.waiting
        role = message.get("role")
        if role == "assistant":
            while waiting:
                turn = waiting.pop(0)
                self._add(turn, "" if turn["last"] else None, None)
            usage = _usage(message)
            for i, (command, call_id) in enumerate(_commands(message)):
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
                self._add(waiting.pop(index), *_observation(message))
            elif not self.seen_task:
                self.seen_task = True
                if self.task is None and role == "user":
                    self.task = _text(message["content"])
        elif role == "exit":
            extra = message.get("extra") if isinstance(message.get("extra"), dict) else {}
            self.exit_status, self.submission = extra.get("exit_status"), extra.get("submission")
            for turn in waiting:  # the command that submitted has no output message of its own
                turn["last"] = True

    def take(self) -> list[dict]:
        """The events made since the last call (each handed out once, then not held here)."""
        if self.builder is None:
            return []
        events, self.builder.events = self.builder.events, []
        if events:
            self.last_event = events[-1]
            self.last_added = next((e for e in reversed(events) if e["type"] == "node_added"), self.last_added)
        return events

    def finish(self) -> list[dict]:
        """The last events: the submitting turn, the submission and the run's end."""
        info = self.info
        while self.waiting:
            turn = self.waiting.pop(0)
            last = turn["last"]
            self._add(turn, (self.submission or "") if last else None, 0 if last else None)
        builder = self._builder()
        events = self.take()
        patch = text_of(self.submission or info.get("submission") or "")
        last = self.last_event if self.parent else None
        if self.parent and not patch and last and last.get("type") == "node_executed":
            if "FINAL_OUTPUT" in (self.last_added["action"].get("raw") or ""):
                patch = extract_patch(last.get("observation"))
        status = text_of(self.exit_status or info.get("exit_status") or "")
        # mini.yaml's workflow submits with the marker alone: the submission is empty (the change
        # stays in the working tree), yet the agent submitted, and the run says so.
        if self.parent and (patch or status == "Submitted"):
            builder.submit(self.parent, patch)
        stats = info.get("model_stats") or {}
        totals = {"cost": float(stats.get("instance_cost") or 0.0), "api_calls": int(stats.get("api_calls") or 0)}
        builder.finish(status or ("Submitted" if patch else None), totals if any(totals.values()) else None)
        return events + self.take()


def convert(data: object, name: str) -> list[dict]:
    if isinstance(data, dict):
        messages, info = data.get("messages") or [], data.get("info") or {}
        info = {**info, "instance_id": data.get("instance_id") or info.get("instance_id")}
    else:
        messages, info = data, {}
    messages = [m for m in messages if isinstance(m, dict)]
    users = [m for m in messages if m.get("role") == "user"]
    conversion = Conversion(name, info, _text(users[0]["content"]) if users else "")
    for message in messages:
        conversion.feed(message)
    return conversion.take() + conversion.finish()


IMPORTER = Importer("mini-swe-agent", "no assistant message in `messages`", looks_like, convert)
