"""Actions of the agent-computer interface and their kinds (docs/architecture.md section 4).

An action is stored in events as ``{"tool": str, "args": dict, "raw": str}``.
Classification maps tools, and the commands of the agents we import, onto the
seven kinds; the critical ones are where DARS branches.
"""

from __future__ import annotations

import json
import re
import shlex
import time
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


# --- executing an action in a sandbox ---------------------------------------------

SEARCH_CAP = 100
"""Matches ``search`` shows before it asks for a narrower pattern."""
VIEW_CAP = 400
"""Lines ``view`` shows when no range is given."""


@dataclass(slots=True)
class Observation:
    """What an action did: the text the model sees next and how the command ended."""

    text: str
    exit_code: int = 0
    duration: float = 0.0
    timed_out: bool = False
    truncated: bool = False


def _numbered(lines: list[str], first: int) -> str:
    width = len(str(first + len(lines)))
    return "".join(
        f"{first + i:>{width}}\t{line if line.endswith(chr(10)) else line + chr(10)}" for i, line in enumerate(lines)
    )


def _excerpt(text: str, start: int, end: int, context: int = 3) -> str:
    """Lines ``start``..``end`` (1-based) of ``text`` with context, numbered."""
    lines = text.splitlines(keepends=True)
    lo, hi = max(1, start - context), min(len(lines), end + context)
    return _numbered(lines[lo - 1 : hi], lo)


def _view(sandbox, path: str, start, end) -> Observation:
    from trajscope.engine.sandbox.base import SandboxError, repo_path

    target = repo_path(path, sandbox.repo)
    try:
        text = sandbox.read(path)
    except SandboxError as exc:
        if not str(exc).endswith("is a directory"):
            raise
        listing = sandbox.run(
            f"cd {shlex.quote(target)} && find . -maxdepth 2 -not -path '*/.*' "
            "-not -name '__pycache__' -not -path '*/__pycache__/*' | sort",
            timeout=30,
        )
        return Observation(listing.output, listing.exit_code, listing.duration)
    lines = text.splitlines(keepends=True)
    if not lines:
        return Observation(f"{path} is empty")
    first = max(1, int(start or 1))
    last = min(len(lines), int(end) if end else first + VIEW_CAP - 1)
    if first > len(lines):
        raise ActionError(f"{path} has only {len(lines)} lines")
    body = _numbered(lines[first - 1 : last], first)
    if last < len(lines):
        body += f"[{len(lines) - last} more lines; view with start={last + 1} to see them]\n"
    return Observation(body)


def _search(sandbox, pattern: str, path: str | None) -> Observation:
    from trajscope.engine.sandbox.base import repo_path

    target = repo_path(path or ".", sandbox.repo)
    repo = shlex.quote(sandbox.repo.rstrip("/") or "/")
    # The path is resolved first and must stay in the repository (a link may not lead the
    # search out of it); grep -r follows no link below it and skips FIFOs and devices.
    command = (
        f"t=$(realpath -e -- {shlex.quote(target)}) || exit 2\n"
        f"r=$(realpath -e -- {repo})\n"
        'case "$t/" in "$r"/*) ;; *) echo \'trajscope: the path leads outside the repository\'; exit 3;; esac\n'
        'cd "$r" && if [ "$t" = "$r" ]; then t=.; else t=${t#"$r"/}; fi\n'
        f"grep -rnIE -D skip --exclude-dir=.git --exclude-dir=__pycache__ -e {shlex.quote(pattern)} "
        f'-- "$t" | head -n {SEARCH_CAP + 1}'
    )
    result = sandbox.run(command, timeout=60)
    if result.exit_code == 3 and "leads outside" in result.output:
        raise ActionError(f"{path} leads outside the repository")
    lines = [line.removeprefix("./") for line in result.output.splitlines() if line.strip()]
    if not lines:
        return Observation(f"no matches for {pattern!r} in {path or 'the repository'}", 1, result.duration)
    text = "\n".join(lines[:SEARCH_CAP]) + "\n"
    if len(lines) > SEARCH_CAP:
        text += f"[more than {SEARCH_CAP} matches; narrow the pattern or the path]\n"
    return Observation(text, 0, result.duration)


def _str_replace(sandbox, path: str, old: str, new: str) -> Observation:
    if not old:
        raise ActionError("str_replace needs a non-empty `old` text")
    text = sandbox.read(path)
    count = text.count(old)
    if count == 0:
        raise ActionError(
            f"the `old` text was not found in {path}; view the file and copy the lines exactly, whitespace included"
        )
    if count > 1:
        raise ActionError(
            f"the `old` text occurs {count} times in {path}; include more surrounding lines so that it occurs once"
        )
    at = text.index(old)
    updated = text[:at] + new + text[at + len(old) :]
    sandbox.write(path, updated)
    start = text.count("\n", 0, at) + 1
    return Observation(f"Edited {path}. It now reads:\n" + _excerpt(updated, start, start + new.count("\n")))


def _insert(sandbox, path: str, line: int, text: str) -> Observation:
    content = sandbox.read(path)
    lines = content.splitlines(keepends=True)
    if not 0 <= line <= len(lines):
        raise ActionError(f"line must be between 0 and {len(lines)} (the length of {path})")
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    block = text if text.endswith("\n") else text + "\n"
    updated = "".join(lines[:line]) + block + "".join(lines[line:])
    sandbox.write(path, updated)
    return Observation(
        f"Inserted {block.count(chr(10))} lines into {path}. It now reads:\n"
        + _excerpt(updated, line + 1, line + block.count("\n"))
    )


def _create(sandbox, path: str, content: str) -> Observation:
    from trajscope.engine.sandbox.base import SandboxError

    try:
        sandbox.read(path)
    except SandboxError as exc:
        if str(exc).endswith("is a directory"):
            raise ActionError(f"{path} is a directory") from None
    else:
        raise ActionError(f"{path} already exists; use str_replace or insert to change it")
    sandbox.write(path, content)
    return Observation(f"Created {path} ({content.count(chr(10)) + (not content.endswith(chr(10)))} lines).")


def execute(action: Action, sandbox, timeout: float = 120.0) -> Observation:
    """Run ``action`` in ``sandbox``. Mistakes (a missing file, a non-unique ``old``, a path
    outside the repository) come back as an observation with exit code 1 for the model to read;
    a broken sandbox raises SandboxError."""
    from trajscope.engine.sandbox.base import PathOutsideRepo, SandboxError

    started = time.perf_counter()
    args = action.args
    try:
        if action.tool == "bash":
            result = sandbox.run(str(args.get("command", "")), timeout=timeout)
            text = result.output
            if result.timed_out:
                text += f"\n[the command did not finish in {timeout:g} s and was stopped]\n"
            return Observation(text, result.exit_code, result.duration, result.timed_out, result.truncated)
        if action.tool == "view":
            obs = _view(sandbox, args["path"], args.get("start"), args.get("end"))
        elif action.tool == "search":
            obs = _search(sandbox, args["pattern"], args.get("path"))
        elif action.tool == "str_replace":
            obs = _str_replace(sandbox, args["path"], args["old"], args["new"])
        elif action.tool == "insert":
            obs = _insert(sandbox, args["path"], int(args["line"]), args["text"])
        elif action.tool == "create":
            obs = _create(sandbox, args["path"], args["content"])
        elif action.tool == "submit":
            patch = sandbox.diff()
            obs = Observation(patch if patch.strip() else "(no changes to submit)")
        else:
            raise ActionError(f"unknown tool {action.tool!r}")
    except (ActionError, PathOutsideRepo) as exc:
        obs = Observation(f"error: {exc}", 1)
    except SandboxError as exc:
        message = str(exc)
        if (
            not message.endswith(("does not exist", "is a directory", "is not a regular file", "look at it with bash"))
            and "cannot be" not in message
        ):
            raise
        obs = Observation(f"error: {message}", 1)
    obs.duration = obs.duration or time.perf_counter() - started
    return obs
