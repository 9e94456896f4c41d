"""moatless-tree-search trees: a serialised ``SearchTree`` (``trajectory.json``: a nested
``root`` with ``children``), the flat node list with ``parent_id``, and older nodes whose
one ``action`` / ``output`` sit on the node instead of in ``action_steps``.

It is a search tree like trajscope's, so every branch is kept. Each action step is a
node; a moatless node's ``reward`` becomes a score (its value -100..100 scaled to 0..1,
the raw value and the explanation kept), and its ``visits``, ``value``, ``terminal`` and
``is_duplicate`` go with the node (``imported``). A duplicate is marked pruned; a terminal
finish whose file context holds patches is a submission of them.
"""

from __future__ import annotations

from trajscope.engine.formats.builder import Importer, RunBuilder
from trajscope.engine.jsonio import text_of

# moatless's action argument classes, by their class name, as trajscope tools and kinds.
_SEARCH = {
    "FindClassArgs",
    "FindFunctionArgs",
    "FindCodeSnippetArgs",
    "SemanticSearchArgs",
    "ListFilesArgs",
    "GlobArgs",
    "GrepToolArgs",
}
_FINISH = {"FinishArgs", "VerifiedFinishArgs"}


def _is_node(item: object) -> bool:
    """A moatless node (a DARS node also has ``node_id``, but is a chat message with ``role``)."""
    return (
        isinstance(item, dict)
        and "node_id" in item
        and "role" not in item
        and ("action_steps" in item or "children" in item or "action" in item or "parent_id" in item)
    )


def looks_like(data: object) -> bool:
    if isinstance(data, dict):
        return _is_node(data.get("root"))
    return (
        isinstance(data, list)
        and bool(data)
        and all(isinstance(n, dict) and "node_id" in n and "role" not in n and "parent_id" in n for n in data[:50])
    )


def _nested(data: object) -> dict | None:
    """The root as a nested node (the flat list rebuilt by ``parent_id``)."""
    if isinstance(data, dict):
        return data["root"]
    by_id = {n["node_id"]: dict(n, children=[]) for n in data if isinstance(n, dict) and "node_id" in n}
    root = None
    for node in by_id.values():
        parent = by_id.get(node.get("parent_id"))
        if parent is None:
            root = root or node
        else:
            parent["children"].append(node)
    return root


def _steps(node: dict) -> list[dict]:
    steps = node.get("action_steps")
    if isinstance(steps, list) and steps:
        return [s for s in steps if isinstance(s, dict)]
    if node.get("action") is not None or node.get("output") is not None:  # older files
        return [{"action": node.get("action"), "observation": node.get("output")}]
    return []


def _action(args: object) -> tuple[dict, str, str | None]:
    """(trajscope action, thought, kind) of one moatless action's arguments."""
    args = args if isinstance(args, dict) else {}
    cls = text_of(args.get("action_args_class") or "").rsplit(".", 1)[-1]
    name = cls.removesuffix("Args") or text_of(args.get("name") or "action")
    thought = text_of(args.get("thoughts") or args.get("thought") or "")
    fields = {k: v for k, v in args.items() if k not in ("thoughts", "thought", "action_args_class")}
    path = text_of(fields.get("path") or fields.get("file_path") or "")
    command = text_of(fields.get("command") or "")
    if cls == "StringReplaceArgs" or command == "str_replace":
        return (
            {"tool": "str_replace_editor", "args": {"command": "str_replace", **fields}, "raw": f"str_replace {path}"},
            thought,
            "edit",
        )
    if cls == "CreateFileArgs" or command == "create":
        return (
            {"tool": "str_replace_editor", "args": {"command": "create", **fields}, "raw": f"create {path}"},
            thought,
            "create",
        )
    if cls in ("InsertLineArgs", "InsertLinesArgs", "AppendStringArgs") or command == "insert":
        return (
            {"tool": "str_replace_editor", "args": {"command": "insert", **fields}, "raw": f"insert {path}"},
            thought,
            "append",
        )
    if cls == "ViewCodeArgs" or command == "view":
        files = fields.get("files") if isinstance(fields.get("files"), list) else []
        where = ", ".join(text_of(f.get("file_path", "")) for f in files if isinstance(f, dict)) or path
        return {"tool": "view", "args": fields, "raw": f"view {where}"}, thought, "view"
    if cls in _SEARCH:
        what = text_of(
            fields.get("class_name")
            or fields.get("function_name")
            or fields.get("code_snippet")
            or fields.get("query")
            or fields.get("pattern")
            or fields.get("directory")
            or ""
        )
        return {"tool": "search", "args": fields, "raw": f"{name} {what}".strip()}, thought, "search"
    if cls in _FINISH:
        return (
            {"tool": "submit", "args": fields, "raw": "submit"},
            thought or text_of(fields.get("finish_reason") or ""),
            "submit",
        )
    if cls == "RunTestsArgs":
        tests = fields.get("test_files") if isinstance(fields.get("test_files"), list) else []
        return (
            {"tool": "run_tests", "args": fields, "raw": "run_tests " + " ".join(map(text_of, tests))},
            thought,
            "run",
        )
    return {"tool": name or "action", "args": fields, "raw": name or "action"}, thought, None


def _observation(value: object) -> str:
    if isinstance(value, dict):
        return text_of(value.get("message") or value.get("summary") or "")
    return "" if value is None else text_of(value)


def _patch(node: dict) -> str:
    context = node.get("file_context") if isinstance(node.get("file_context"), dict) else {}
    files = context.get("files") if isinstance(context.get("files"), list) else []
    return "".join(text_of(f.get("patch")) for f in files if isinstance(f, dict) and f.get("patch"))


def convert(data: object, name: str) -> list[dict]:
    root = _nested(data) or {}
    statement = text_of(root.get("user_message") or root.get("message") or "")
    builder = RunBuilder(name, {"instance_id": name, "problem_statement": statement}, "moatless")
    stack: list[tuple[dict, str | None]] = [
        (child, None) for child in reversed(root.get("children") or []) if isinstance(child, dict)
    ]
    while stack:
        node, parent = stack.pop()
        last = parent
        steps = _steps(node)
        for i, step in enumerate(steps):
            action, thought, kind = _action(step.get("action"))
            observation = step.get("observation")
            last = builder.turn(
                last,
                action,
                thought=thought,
                kind=kind,
                observation=_observation(observation) if observation is not None else None,
            )
        if steps:
            _mark(builder, node, last)
        for child in reversed(node.get("children") or []):
            if isinstance(child, dict):
                stack.append((child, last))
    return builder.finish(None)


def _mark(builder: RunBuilder, node: dict, node_id: str) -> None:
    """The moatless node's search figures on its last step's node."""
    added = next(e for e in reversed(builder.events) if e["type"] == "node_added" and e["id"] == node_id)
    imported = {
        k: node.get(k) for k in ("node_id", "visits", "value", "terminal", "is_duplicate") if node.get(k) is not None
    }
    reward = node.get("reward") if isinstance(node.get("reward"), dict) else None
    if (
        reward is not None
        and isinstance(reward.get("value"), (int, float))
        and not isinstance(reward.get("value"), bool)
    ):
        raw = float(reward["value"])
        imported["reward"] = raw
        builder._emit(
            "node_scored",
            id=node_id,
            scorer="moatless-reward",
            score=round(min(1.0, max(0.0, (raw + 100) / 200)), 4),
            rationale=text_of(reward.get("explanation") or f"reward {raw:g}"),
        )
    added["imported"] = imported
    if node.get("is_duplicate"):
        builder.status(node_id, "pruned", "a duplicate of an earlier node (moatless)")
    elif node.get("terminal") and added["action"].get("tool") == "submit":
        builder.submit(node_id, _patch(node))


IMPORTER = Importer("moatless-tree-search", "no node with an action step under `root`", looks_like, convert)
