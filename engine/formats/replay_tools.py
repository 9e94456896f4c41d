"""What each imported format's tools did to the repository, so a recorded step can be run
again in a sandbox (docs/architecture.md section 2, "Replay").

The importers keep an action as ``{tool, args, raw}``; the tools behind those names
differ between formats: a bash command (mini-swe-agent, OpenHands' ``CmdRunAction``,
SWE-agent's bash, trajscope's own), the ``str_replace_editor`` of OpenHands and SWE-agent's
function-calling mode, SWE-agent's and DARS's windowed commands (``open``, ``goto``,
``scroll_*``, ``create``, ``edit``, ``insert``, ``append``), and trajscope's seven tools.
``apply`` runs one of them in a sandbox and says what to compare with the record. A
recorded action is hostile input like any model's output: bash runs inside the sandbox,
and file tools go through the sandbox's ``read``/``write``, which keep to the repository.
"""

from __future__ import annotations

import codecs
import re
import shlex
from dataclasses import dataclass, field

from trajscope.engine.actions import Action, classify
from trajscope.engine.tools import execute

# Where the recorded agents kept the repository: SWE-bench images, OpenHands, trajscope's image.
ROOTS = ("/testbed", "/workspace", "/repo")
_READ_ONLY = frozenset(
    {"open", "goto", "scroll_up", "scroll_down", "find_file", "search_file", "search_dir", "cat", "grep", "rg", "find"}
)
_NO_OP = frozenset({"message", "think", "finish", "recall", "agent_think", "null"})
# What SWE-agent and OpenHands print when their editor refused an edit (nothing was written).
_REFUSED = re.compile(
    r"Your proposed edit has introduced new syntax error|did not appear verbatim|No replacement was performed"
    r"|^ERROR:|^Error:|Usage: edit|is not a valid|did not find|No file open|No matches found",
    re.MULTILINE,
)
_CLASSIC_EDIT = re.compile(r"^\s*edit\s+(\d+):(\d+)\s*\n(.*?)\n?end_of_edit\s*$", re.DOTALL)
_ANSI_C = re.compile(r"\$'((?:\\.|[^'\\])*)'")  # bash's $'...' quoting, which DARS writes
_FILE_ERRORS = ("does not exist", "is a directory", "is not a regular file", "look at it with bash")
_BLOCK_CMD = re.compile(r"^\s*(append|insert)(?:\s+(\d+))?\s*\n(.*?)\n?end_of_\1\s*$", re.DOTALL)


class Unreplayable(Exception):
    """A recorded step that replay cannot run; the message says why, as the end of a sentence."""


@dataclass
class Cursor:
    """What a format's tools remember between steps: SWE-agent's open file, and the
    editor's history for ``undo_edit``."""

    open_file: str | None = None
    history: dict[str, list[str]] = field(default_factory=dict)

    def copy(self) -> Cursor:
        return Cursor(self.open_file, {k: list(v) for k, v in self.history.items()})


@dataclass
class Outcome:
    """What replaying a step gave, and what to compare with the record: ``output`` (the
    normalised text), ``patch`` (the state's diff against a recorded submission), ``status``
    (whether the tool refused; its text is the format's own, which trajscope does not redraw)
    or ``none`` (read-only or a message: nothing changed, nothing to compare)."""

    compare: str
    text: str = ""
    failed: bool = False
    exit_code: int | None = None  # a command's, where one ran


def recorded_refusal(observation: str | None) -> bool:
    """Whether the recorded editor output says the edit was refused (the file stayed as it was)."""
    return bool(observation) and bool(_REFUSED.search(observation.replace("\r", "")))


def repo_relative(path: str) -> str:
    """A recorded path as a path from the repository root: the recorded agents' roots
    (``/testbed``, ``/workspace``, ``/repo``, SWE-agent's ``/owner__name``) are taken off.
    Anything else absolute is refused by the sandbox, which keeps every path to the repository."""
    path = str(path or "").strip().strip("\"'")
    if not path.startswith("/"):
        return path
    for root in ROOTS:
        if path == root:
            return "."
        if path.startswith(root + "/"):
            return path[len(root) + 1 :]
    first, _, rest = path[1:].partition("/")
    if "__" in first:  # SWE-agent checks a repository out at /owner__name
        return rest or "."
    raise Unreplayable(f"its path {path} is outside every repository root trajscope knows ({', '.join(ROOTS)})")


def _words(command: str) -> list[str]:
    def unquote(match: re.Match) -> str:
        return shlex.quote(codecs.escape_decode(match.group(1).encode("utf-8"))[0].decode("utf-8", "replace"))

    try:
        return shlex.split(_ANSI_C.sub(unquote, command))
    except ValueError as exc:
        raise Unreplayable(f"its command cannot be split into arguments ({exc})") from None


def _read(box, path: str) -> str:
    from trajscope.engine.sandbox.base import SandboxError

    try:
        return box.read(path)
    except SandboxError as exc:  # a file the record had and the rebuilt state lacks: not a broken sandbox
        if not str(exc).endswith(_FILE_ERRORS):
            raise
        raise Unreplayable(f"{exc} in the rebuilt state") from None


def _replace(box, cursor: Cursor, path: str, old: str, new: str) -> None:
    text = _read(box, path)
    count = text.count(old) if old else 0
    if count != 1:
        raise Unreplayable(f"the text it replaces occurs {count} times in {path}, not once")
    cursor.history.setdefault(path, []).append(text)
    box.write(path, text.replace(old, new, 1))


def _insert(box, cursor: Cursor, path: str, text: str, after: int | None, fresh_empty: bool = False) -> None:
    content = _read(box, path)
    # ``append`` fills the one empty line ``create`` wrote; ``insert`` keeps it (as SWE-agent does)
    lines = [] if fresh_empty and content == "\n" else content.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    at = len(lines) if after is None else after
    if not 0 <= at <= len(lines):
        raise Unreplayable(f"it inserts after line {at} of {path}, which has {len(lines)}")
    block = text if text.endswith("\n") else text + "\n"
    cursor.history.setdefault(path, []).append(content)
    box.write(path, "".join(lines[:at]) + block + "".join(lines[at:]))


def _editor(action: dict, recorded: str | None, box, cursor: Cursor) -> Outcome:
    """``str_replace_editor`` (OpenHands, SWE-agent function calling, moatless)."""
    args = action.get("args") or {}
    verb = str(args.get("command") or "")
    path = repo_relative(args.get("path") or "")
    if verb == "view":
        return Outcome("none")
    if recorded_refusal(recorded):
        return Outcome("status", failed=True)
    if verb == "create":
        if "file_text" not in args:
            raise Unreplayable("the file does not record the created file's text")
        box.write(path, str(args["file_text"]))
    elif verb == "str_replace":
        if "old_str" not in args:
            raise Unreplayable("the file does not record the replaced text (old_str)")
        _replace(box, cursor, path, str(args["old_str"]), str(args.get("new_str") or ""))
    elif verb == "insert":
        if "new_str" not in args or "insert_line" not in args:
            raise Unreplayable("the file does not record the inserted text and line")
        _insert(box, cursor, path, str(args["new_str"]), int(args["insert_line"]))
    elif verb == "undo_edit":
        if not cursor.history.get(path):
            raise Unreplayable(f"it undoes an edit of {path} that replay did not make")
        box.write(path, cursor.history[path].pop())
    else:
        raise Unreplayable(f"str_replace_editor has no command {verb!r} trajscope knows")
    return Outcome("status")


def _windowed(tool: str, action: dict, recorded: str | None, box, cursor: Cursor) -> Outcome:
    """SWE-agent's and DARS's windowed commands; the text they print (a window of the open
    file) is SWE-agent's own, so only whether an edit was refused is compared."""
    args = action.get("args") or {}
    command = str(args.get("command") or action.get("raw") or "")
    if tool in ("open", "create"):
        words = _words(command)[1:] if command.startswith(tool) else [str(args.get("path") or "")]
        if not words or not words[0]:
            raise Unreplayable(f"`{tool}` names no file")
        path = repo_relative(words[0])
        cursor.open_file = path
        if tool == "open":
            return Outcome("none")
        if recorded_refusal(recorded):
            return Outcome("status", failed=True)
        box.write(path, "\n")  # SWE-agent's create writes one empty line
        return Outcome("status")
    if cursor.open_file is None:
        raise Unreplayable(f"`{tool}` edits the open file and no step before it opened one")
    if recorded_refusal(recorded):
        return Outcome("status", failed=True)
    path = cursor.open_file
    if tool == "edit":
        classic = _CLASSIC_EDIT.match(command)
        if classic:
            start, end, text = int(classic.group(1)), int(classic.group(2)), classic.group(3)
            lines = _read(box, path).splitlines(keepends=True)
            if not 1 <= start <= end + 1 or start > len(lines) + 1:
                raise Unreplayable(f"it edits lines {start}:{end} of {path}, which has {len(lines)}")
            cursor.history.setdefault(path, []).append("".join(lines))
            block = text + "\n" if text else ""
            box.write(path, "".join(lines[: start - 1]) + block + "".join(lines[end:]))
            return Outcome("status")
        if "search" in args:
            old, new = str(args["search"]), str(args.get("replace") or "")
        else:
            words = _words(command)[1:]
            if len(words) < 2:
                raise Unreplayable("its edit records neither a line range nor a search and a replacement")
            old, new = words[0], words[1]
        _replace(box, cursor, path, old, new)
        return Outcome("status")
    block = _BLOCK_CMD.match(command)  # DARS's append/insert with an end marker
    if block:
        after = int(block.group(2)) if block.group(2) else None
        _insert(box, cursor, path, block.group(3), after, fresh_empty=tool == "append")
        return Outcome("status")
    words = _words(command)[1:]
    if not words:
        raise Unreplayable(f"`{tool}` records no text")
    after = int(words[1]) if tool == "insert" and len(words) > 1 and words[1].isdigit() else None
    _insert(box, cursor, path, words[0], after, fresh_empty=tool == "append")
    return Outcome("status")


def _guarded(tool_semantics, *args) -> Outcome:
    from trajscope.engine.sandbox.base import PathOutsideRepo

    try:
        return tool_semantics(*args)
    except PathOutsideRepo as exc:  # a recorded path may point anywhere: it stays refused
        raise Unreplayable(str(exc)) from None
    except (ValueError, TypeError) as exc:  # a recorded argument of the wrong shape
        raise Unreplayable(f"a recorded argument is malformed ({exc})") from None


def apply(
    action: dict | None, recorded: str | None, box, cursor: Cursor, timeout: float, native: bool = False
) -> Outcome:
    """Run one recorded action in ``box``; Unreplayable when it cannot be (the message says why).
    ``native``: the action is trajscope's own (a run log), so its seven tools mean what they
    mean here; in another tool's file a ``view`` or ``create`` is that tool's."""
    action = action or {}
    tool = str(action.get("tool") or "")
    args = action.get("args") if isinstance(action.get("args"), dict) else {}
    kind = classify(action)
    if tool == "submit" or (tool == "bash" and kind == "submit"):
        # A submission changes nothing: the state's diff is what it recorded (mini-swe-agent's
        # last command prints it; SWE-agent's submit does).
        return Outcome("patch", box.diff())
    if tool == "bash":
        command = str(args.get("command") or action.get("raw") or "")
        result = box.run(command, timeout=timeout)
        return Outcome("output", result.output, result.exit_code != 0, result.exit_code)
    if tool == "str_replace_editor":
        return _guarded(_editor, action, recorded, box, cursor)
    if tool in _NO_OP:
        return Outcome("none")
    tools = {"view": {"path"}, "search": {"pattern"}, "str_replace": {"path", "old", "new"},
              "insert": {"path", "line", "text"}, "create": {"path", "content"}}  # fmt: skip
    if native and tool in tools and tools[tool] <= set(args):  # trajscope's own tools, as a run log records them
        observation = execute(Action.from_dict(action), box, timeout=timeout)
        return Outcome("output", observation.text, observation.exit_code != 0, observation.exit_code)
    if tool in _READ_ONLY or tool in ("view", "search"):
        if tool == "open":
            return _guarded(_windowed, tool, action, recorded, box, cursor)
        return Outcome("none")
    if tool in ("create", "edit", "insert", "append"):
        return _guarded(_windowed, tool, action, recorded, box, cursor)
    raise Unreplayable(f"it uses the tool `{tool}`, which trajscope does not know how to run again")
