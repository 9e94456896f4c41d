"""Exports of one node's patch: the patch itself and a SWE-bench predictions line."""

from __future__ import annotations

from pathlib import Path

import orjson

from engine.tree import Tree


class ExportError(Exception):
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
    return {"instance_id": tree.title, "model_name_or_path": model or model_name(tree),
            "model_patch": patch_of(tree, node_id)}


def write_patch(tree: Tree, node_id: str, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(patch_of(tree, node_id), encoding="utf-8")
    return path


def append_prediction(tree: Tree, node_id: str, path: str | Path, model: str | None = None) -> Path:
    """Add the node's prediction to a JSONL file, replacing an earlier line for the same instance."""
    path = Path(path)
    line = prediction(tree, node_id, model)
    kept: list[bytes] = []
    if path.exists():
        for raw in path.read_bytes().splitlines():
            try:
                if orjson.loads(raw).get("instance_id") == line["instance_id"]:
                    continue
            except orjson.JSONDecodeError:
                pass
            kept.append(raw)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(r + b"\n" for r in kept) + orjson.dumps(line) + b"\n")
    return path
