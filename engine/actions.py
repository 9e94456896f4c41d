"""Actions of the agent-computer interface and their kinds (docs/architecture.md section 4).

An action is stored in events as ``{"tool": str, "args": dict, "raw": str}``.
Classification maps tools, and the commands of the agents we import, onto the
seven kinds; the critical ones are where DARS branches.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

KINDS = ("view", "search", "run", "edit", "append", "create", "submit")
CRITICAL_KINDS = frozenset({"edit", "append", "create", "submit"})

# Tools and commands of trajscope, SWE-agent and DARS, by kind.
_TOOL_KINDS = {
    "view": "view",
    "open": "view",
    "goto": "view",
    "scroll_up": "view",
    "scroll_down": "view",
    "cat": "view",
    "search": "search",
    "find_file": "search",
    "search_file": "search",
    "search_dir": "search",
    "grep": "search",
    "rg": "search",
    "find": "search",
    "str_replace": "edit",
    "edit": "edit",
    "insert": "append",
    "append": "append",
    "create": "create",
    "submit": "submit",
}
# str_replace_editor (SWE-agent's function-calling editor) carries its verb in `command`.
_EDITOR_KINDS = {"view": "view", "create": "create", "str_replace": "edit", "insert": "append", "undo_edit": "edit"}
_SUBMIT_MARKERS = ("COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT", "MINI_SWE_AGENT_FINAL_OUTPUT")
# A bash command writes files if it redirects to a file (not a descriptor or /dev/null),
# edits in place, tees, or applies a patch.
_WRITES = re.compile(
    r"(?:^|[^0-9&<>])>{1,2}\s*(?!&|/dev/null)[^\s&|;]"
    r"|\bsed\s+(?:-[a-zA-Z]*\s+)*-i|\btee\b|\bpatch\b|\bgit\s+apply\b|\bcat\s*<<"
)


def make_action(tool: str, args: dict | None = None, raw: str | None = None) -> dict:
    """The event form of an action."""
    args = dict(args or {})
    if raw is None:
        raw = args.get("command") if tool == "bash" else " ".join([tool, *map(str, args.values())])
    return {"tool": tool, "args": args, "raw": raw or tool}


def action_from_command(text: str) -> dict:
    """An action from a command line as text agents write it (``edit 1:3 ...``, ``ls -la``)."""
    text = (text or "").strip()
    first = text.split(None, 1)[0] if text else ""
    if first in _TOOL_KINDS and first not in ("cat", "grep", "find", "rg"):
        return {"tool": first, "args": {"command": text}, "raw": text}
    return {"tool": "bash", "args": {"command": text}, "raw": text}


def bash_writes(command: str) -> bool:
    """True when a shell command changes files in the repository."""
    return bool(_WRITES.search(command or ""))


def classify(action: dict | None) -> str:
    """The kind of an action: view, search, run, edit, append, create or submit."""
    if not action:
        return "run"
    tool = str(action.get("tool") or "")
    args = action.get("args") or {}
    raw = str(action.get("raw") or "")
    if tool == "str_replace_editor":
        return _EDITOR_KINDS.get(str(args.get("command", "")), "view")
    if tool in _TOOL_KINDS and tool != "cat":
        return _TOOL_KINDS[tool]
    command = str(args.get("command", raw))
    if any(marker in command for marker in _SUBMIT_MARKERS):
        return "submit"
    if bash_writes(command):
        return "edit"
    words = command.split(None, 2)  # shlex is ten times slower and only the head matters
    head = words[0] if words else ""
    if head in ("cat", "head", "tail", "less", "nl") and len(words) > 1:
        return "view"
    if head in ("grep", "rg", "find", "ag"):
        return "search"
    return "run"


def short_action(action: dict | None, width: int = 60) -> str:
    """One line that says what an action does, cut to ``width`` characters."""
    if not action:
        return ""
    tool = action.get("tool") or ""
    args = action.get("args") or {}
    if tool == "bash" or "command" in args and len(args) == 1:
        text = str(args.get("command") or action.get("raw") or "")
    elif "pattern" in args:
        text = f"{tool} {args['pattern']!r} in {args.get('path') or '.'}"
    elif "path" in args:
        text = f"{tool} {args['path']}"
    else:
        text = str(action.get("raw") or tool)
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


# --- the seven tools (docs/architecture.md section 4) -------------------------------------------


class ActionError(ValueError):
    """A model's tool call or text cannot be turned into an action; the message is for the model."""


@dataclass(slots=True)
class Action:
    """One call of a tool: its name, its arguments, and the text the model wrote for it."""

    tool: str
    args: dict = field(default_factory=dict)
    raw: str = ""

    @property
    def kind(self) -> str:
        return classify(self.to_dict())

    @property
    def critical(self) -> bool:
        return self.kind in CRITICAL_KINDS

    def to_dict(self) -> dict:
        return make_action(self.tool, self.args, self.raw or None)

    @classmethod
    def from_dict(cls, data: dict) -> Action:
        return cls(str(data.get("tool") or ""), dict(data.get("args") or {}), str(data.get("raw") or ""))


def _tool(name: str, description: str, **params: tuple[str, str, bool]) -> dict:
    props = {key: {"type": type_, "description": text} for key, (type_, text, _) in params.items()}
    required = [key for key, (_, _, needed) in params.items() if needed]
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {"type": "object", "properties": props, "required": required, "additionalProperties": False},
        },
    }


TOOLS: list[dict] = [
    _tool(
        "bash",
        "Run a shell command in the repository root and see its output (non-interactive; "
        "each call starts a fresh shell).",
        command=("string", "the command line", True),
    ),
    _tool(
        "view",
        "Show a file with line numbers, or list a directory.",
        path=("string", "a path relative to the repository root", True),
        start=("integer", "first line to show (1-based)", False),
        end=("integer", "last line to show (inclusive)", False),
    ),
    _tool(
        "search",
        "Find lines matching a regular expression in the repository (like grep -rn).",
        pattern=("string", "an extended regular expression", True),
        path=("string", "a file or directory to search (default: the whole repository)", False),
    ),
    _tool(
        "str_replace",
        "Replace the one occurrence of `old` in a file with `new`. `old` must match "
        "exactly (whitespace included) and occur once.",
        path=("string", "the file", True),
        old=("string", "the exact text to replace", True),
        new=("string", "the replacement", True),
    ),
    _tool(
        "insert",
        "Insert text after a line of a file (line 0 inserts at the top).",
        path=("string", "the file", True),
        line=("integer", "the line after which to insert", True),
        text=("string", "the lines to insert", True),
    ),
    _tool(
        "create",
        "Create a new file with the given content.",
        path=("string", "the new file", True),
        content=("string", "its full content", True),
    ),
    _tool("submit", "Submit the current changes to the repository as the fix. Ends the episode."),
]
TOOL_NAMES = tuple(t["function"]["name"] for t in TOOLS)
_SCHEMAS = {t["function"]["name"]: t["function"]["parameters"] for t in TOOLS}
_JSON_TYPES = {"string": str, "integer": int}


def parse_tool_call(name: str, arguments: str | dict | None) -> Action:
    """An Action from a function call; ActionError says what is wrong in words a model can act on."""
    if name not in _SCHEMAS:
        raise ActionError(f"unknown tool {name!r}; the tools are: {', '.join(TOOL_NAMES)}")
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments) if arguments.strip() else {}
        except ValueError as exc:
            raise ActionError(f"the arguments of {name} are not valid JSON ({exc})") from None
    args = dict(arguments or {})
    if not isinstance(arguments or {}, dict):
        raise ActionError(f"the arguments of {name} must be a JSON object")
    schema = _SCHEMAS[name]
    missing = [key for key in schema["required"] if key not in args]
    if missing:
        raise ActionError(f"{name} needs {', '.join(missing)}")
    unknown = [key for key in args if key not in schema["properties"]]
    if unknown:
        raise ActionError(f"{name} takes no argument {', '.join(unknown)}")
    for key, value in list(args.items()):
        want = schema["properties"][key]["type"]
        if want == "integer" and isinstance(value, str) and value.strip().lstrip("-").isdigit():
            args[key] = value = int(value)
        if not isinstance(value, _JSON_TYPES[want]) or isinstance(value, bool):
            raise ActionError(f"{name}: {key} must be a{'n' if want == 'integer' else ''} {want}")
    raw = args["command"] if name == "bash" else json.dumps({"tool": name, **args}, ensure_ascii=False)
    return Action(name, args, raw)


_FENCE = re.compile(r"```(?:bash|sh|shell)?[ \t]*\n(.*?)```", re.DOTALL)


def parse_text(text: str) -> tuple[str, Action]:
    """(thought, action) from a reply in the text format: one fenced bash block a turn.

    A block that holds only ``submit`` submits.
    """
    blocks = _FENCE.findall(text or "")
    if len(blocks) != 1:
        found = "no" if not blocks else f"{len(blocks)}"
        raise ActionError(
            f"your reply had {found} fenced ```bash blocks; reply with exactly one "
            "(write `submit` alone in it to submit your changes)"
        )
    command = blocks[0].strip()
    thought = _FENCE.sub("", text, count=1).strip()
    if not command:
        raise ActionError("the ```bash block is empty")
    if command == "submit":
        return thought, Action("submit", {}, "submit")
    return thought, Action("bash", {"command": command}, command)
