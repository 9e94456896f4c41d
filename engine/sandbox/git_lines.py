"""Shell lines the snapshot store's scripts share (``git_store``): taking what a command changed
out of an index, and putting the base's ignored files back (saved apart as a tree of their own,
``GitStore.save_ignored``) around a restore. Every line runs after ``GitStore._prelude``, which
defines ``g`` (git with the engine's settings) and the environment.
"""

from __future__ import annotations

import shlex

from trajscope.engine.sandbox.errors import SandboxError

EMPTY_TREES = frozenset(
    {"4b825dc642cb6eb9a060e54bf8d69288fbee4904", "6ef19b41225c5369f1c104d45d8d85efa9b057b53b14b4b9b939dd74decc5321"}
)
"""The empty tree's id (SHA-1, SHA-256): a base with no ignored files has nothing to put back."""


def ignored_to_put_back(tree: str, index: str) -> tuple[str, str] | None:
    """``restore``'s ``ignored`` for the base's ignored files saved as ``tree``: None where
    there are none (the three git steps that would put them back would change nothing)."""
    return None if tree in EMPTY_TREES else (tree, index)


def leave_index(index: str, keep: bool = False) -> str:
    """Shell lines that take what a command changed (diff-files: stat against ``index``)
    out of that index; the index is rewritten only where a file changed. ``keep``: their
    list stays in ``<index>.moved``."""
    ii, listed = f"GIT_INDEX_FILE={shlex.quote(index)}", shlex.quote(index + ".moved")
    return (
        f"{ii} g diff-files --ignore-submodules=dirty --name-only -z > {listed}\n"
        f"if [ -s {listed} ]; then {ii} g update-index -z --force-remove --stdin < {listed}; fi\n"
        + ("" if keep else f"rm -f {listed}\n")
    )


def put_back_ignored(tree: str, index: str, changed: bool) -> str:
    """Shell lines that make the base's ignored files what they were (``save_ignored``),
    with their own index as the state's files are restored with theirs: what a command
    changed leaves that index, and read-tree writes it and what the index lacks."""
    check_ref(tree)
    ii = f"GIT_INDEX_FILE={shlex.quote(index)}"
    return (
        f"if [ -f {shlex.quote(index)} ] && [ ! -L {shlex.quote(index)} ]; then\n"
        f"{leave_index(index)}"
        f"else rm -f {shlex.quote(index)}; fi\n"
        + (f"{ii} g diff-index --cached --name-only -z {tree}\n" if changed else "")
        + f"{ii} g read-tree --reset -u {tree}\n"
    )


def regain_ignored(index: str, changed: bool) -> str:
    """Shell lines that write again the base's ignored files the state's read-tree removed
    (a state that tracked one, once a command lifted its ignore rule, removes it on the way
    to another state), where nothing holds its place: a path of the state's own there or
    above it (a file, a link, a folder) stays, and so does what is below a link."""
    ii, gone, back = (
        f"GIT_INDEX_FILE={shlex.quote(index)}",
        shlex.quote(index + ".gone"),
        shlex.quote(index + ".back"),
    )
    return (
        f"{ii} g diff-files --ignore-submodules=dirty --diff-filter=D --name-only -z > {gone}\n"
        f"if [ -s {gone} ]; then\n"
        "  while IFS= read -r -d '' p; do\n"
        '    free=1; d=$p; if [ -e "$p" ] || [ -L "$p" ]; then free=0; fi\n'
        '    while [ $free = 1 ] && [ "${d%/*}" != "$d" ]; do d=${d%/*}\n'
        '      if [ -L "$d" ] || { [ -e "$d" ] && [ ! -d "$d" ]; }; then free=0; fi; done\n'
        "    if [ $free = 1 ]; then printf '%s\\0' \"$p\"; fi\n"
        f"  done < {gone} > {back}\n"
        f"  if [ -s {back} ]; then {ii} g checkout-index -f -u -z --stdin < {back}; "
        + (f"cat {back}; " if changed else "")
        + f"fi\nfi\nrm -f {gone} {back}\n"
    )


def check_ref(ref: str) -> None:
    if not isinstance(ref, str) or not (4 <= len(ref) <= 64) or any(c not in "0123456789abcdef" for c in ref):
        raise SandboxError(f"not a state reference: {ref!r}")
