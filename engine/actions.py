"""Actions of the agent-computer interface and their kinds (DESIGN section 4).

An action is stored in events as ``{"tool": str, "args": dict, "raw": str}``.
Classification maps tools, and the commands of the agents we import, onto the
seven kinds; the critical ones are where DARS branches.
"""

from __future__ import annotations

import re

KINDS = ("view", "search", "run", "edit", "append", "create", "submit")
CRITICAL_KINDS = frozenset({"edit", "append", "create", "submit"})

# Tools and commands of trajscope, SWE-agent and DARS, by kind.
_TOOL_KINDS = {
    "view": "view", "open": "view", "goto": "view", "scroll_up": "view", "scroll_down": "view",
    "cat": "view",
    "search": "search", "find_file": "search", "search_file": "search", "search_dir": "search",
    "grep": "search", "rg": "search", "find": "search",
    "str_replace": "edit", "edit": "edit",
    "insert": "append", "append": "append",
    "create": "create",
    "submit": "submit",
}
# str_replace_editor (SWE-agent's function-calling editor) carries its verb in `command`.
_EDITOR_KINDS = {"view": "view", "create": "create", "str_replace": "edit", "insert": "append",
                 "undo_edit": "edit"}
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


def is_critical(kind: str) -> bool:
    return kind in CRITICAL_KINDS


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
