"""Exports of one node's patch: the patch itself and a SWE-bench predictions line, written
through engine/files.py (a link at the name is refused, a file is replaced whole)."""

from __future__ import annotations

from pathlib import Path

import orjson

from trajscope.engine.files import Folder, WriteError, safe_name
from trajscope.engine.tree import Tree
from trajscope.engine.errors import UserCausedError


class ExportError(UserCausedError):
    """What cannot be exported, in one sentence."""


def model_name(tree: Tree) -> str:
    """``model_name_or_path`` of the run: its policy, or its model."""
    config = tree.config or {}
    return str(config.get("model") or config.get("policy") or "trajscope")


def patch_of(tree: Tree, node_id: str) -> str:
    node = tree.nodes.get(node_id)
    if node is None:
        raise ExportError(f"there is no node {node_id!r}")
    patch = tree.patch_at(node_id)
    if not patch.strip():
        raise ExportError(f"the state at node #{node_id} is the base state: there is no patch to export")
    return patch if patch.endswith("\n") else patch + "\n"


def prediction(tree: Tree, node_id: str, model: str | None = None) -> dict:
    """One SWE-bench prediction: exactly ``instance_id``, ``model_name_or_path``, ``model_patch``."""
    return {
        "instance_id": tree.title,
        "model_name_or_path": model or model_name(tree),
        "model_patch": patch_of(tree, node_id),
    }


def patch_name(tree: Tree, node_id: str) -> str:
    """``<instance>.<node>.patch``, both made safe: the instance id comes from the task file."""
    return f"{safe_name(tree.title)}.{safe_name(node_id)}.patch"


def write_patch(tree: Tree, node_id: str, folder: str | Path, name: str | None = None) -> Path:
    """Write the node's patch to ``folder/name`` (default ``patch_name``), replacing a regular file there."""
    patch = patch_of(tree, node_id)
    try:  # bytes git gave that are not UTF-8 come back as they were
        data = patch.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        data = patch.encode("utf-8", "replace")
    with Folder(folder) as out:
        return out.replace(name or patch_name(tree, node_id), data)


def append_prediction(tree: Tree, node_id: str, path: str | Path, model: str | None = None) -> Path:
    """Add the node's prediction to a JSONL file, replacing an earlier line for the same
    instance; every other line is kept byte for byte. ExportError when the file is not a
    predictions file (a line that is JSON but not an object) or cannot be read."""
    from trajscope.engine.jsonio import NotRegularFile, read_regular

    path = Path(path)
    line = prediction(tree, node_id, model)
    with Folder(path.parent) as out:
        out.check_target(path.name)  # a link there is refused before it is read through
        try:
            raw = read_regular(out.child(path.name))
        except FileNotFoundError:
            raw = b""
        except (NotRegularFile, OSError) as exc:
            raise ExportError(f"{path} cannot be read: {exc.strerror or exc}") from None
        kept: list[bytes] = []
        for number, text in enumerate(raw.splitlines(), 1):
            try:
                row = orjson.loads(text)
            except orjson.JSONDecodeError:
                row = {}  # not JSON (a torn line, a comment): kept as it is
            if not isinstance(row, dict):
                raise ExportError(f"{path} line {number} is not a prediction (a JSON object); nothing was written")
            if row.get("instance_id") != line["instance_id"]:
                kept.append(text)
        try:
            return out.replace(path.name, b"".join(r + b"\n" for r in kept) + orjson.dumps(line) + b"\n")
        except WriteError as exc:
            raise ExportError(str(exc)) from None
