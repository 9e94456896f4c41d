"""An action as people read it: a command as shell, an edit as the file and a coloured
diff of the old and new text; the raw JSON of any action one key (``a``) away."""

from __future__ import annotations

import difflib

import orjson
from rich.console import Group
from rich.text import Text

# (tool, or str_replace_editor's command) -> (old-text key, new-text key, line key)
_EDITS = {
    "str_replace": ("old", "new", None),
    "insert": (None, "text", "line"),
    "create": (None, "content", None),
}
_EDITOR = {  # SWE-agent's str_replace_editor and the tools that copy it
    "str_replace": ("old_str", "new_str", None),
    "insert": (None, "new_str", "insert_line"),
    "create": (None, "file_text", None),
}


def _text(value) -> str:
    return value if isinstance(value, str) else "" if value is None else str(value)


def edit_parts(action: dict) -> tuple[str, str, str, str, object] | None:
    """(verb, path, old text, new text, line) when ``action`` edits a file, else None."""
    tool = _text(action.get("tool"))
    args = action.get("args") if isinstance(action.get("args"), dict) else {}
    if tool in _EDITS:
        verb, keys = tool, _EDITS[tool]
    elif tool == "str_replace_editor" and _text(args.get("command")) in _EDITOR:
        verb = _text(args.get("command"))
        keys = _EDITOR[verb]
    else:
        return None
    old_key, new_key, line_key = keys
    old = _text(args.get(old_key)) if old_key else ""
    new = _text(args.get(new_key))
    return verb, _text(args.get("path")), old, new, args.get(line_key) if line_key else None


def edit_diff(verb: str, path: str, old: str, new: str, line=None) -> str:
    """The edit as a unified diff of the text it takes out and puts in."""
    where = f"after line {line}" if verb == "insert" and line is not None else verb
    lines = list(difflib.unified_diff(old.splitlines(), new.splitlines(), f"a/{path}", f"b/{path}", lineterm="", n=3))
    body = "\n".join(lines[2:]) if lines else "(no change in the text)"
    return f"--- {path} ({where})\n{body}"


def render_action(action: dict, theme: str, raw: bool = False, plain: bool = False):
    """A renderable for the detail pane; ``plain``: the same text uncoloured (the first frame
    of a file is drawn before pygments' lexers are loaded, and coloured the frame after)."""

    def code(text: str, lexer: str):
        if plain:
            return Text(text)
        from rich.syntax import Syntax  # pygments: tens of milliseconds the first time

        return Syntax(text, lexer, theme=theme, word_wrap=True)

    args = action.get("args") if isinstance(action.get("args"), dict) else {}
    tool = _text(action.get("tool"))
    if raw:
        return code(orjson.dumps(action, option=orjson.OPT_INDENT_2, default=str).decode(), "json")
    edit = edit_parts(action)
    if edit is not None:
        verb, path, old, new, line = edit
        title = Text(f"{verb} ", style="bold")
        title.append(path or "(no path)")
        if verb == "insert" and line is not None:
            title.append(f" after line {line}", style="dim")
        title.append("   a: raw JSON", style="dim")
        return Group(title, code(edit_diff(verb, path, old, new, line), "diff"))
    if tool == "bash" or set(args) <= {"command"}:
        return code(_text(args.get("command") or action.get("raw")), "bash")
    return code(f"{tool} " + orjson.dumps(args, option=orjson.OPT_INDENT_2, default=str).decode(), "json")
