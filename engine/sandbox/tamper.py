"""What an agent may have changed in its container that the engine's own steps would run.

An agent is root in its container: it can replace ``git``, ``bash``, a library, ``/etc/ld.so.preload``
or the engine's store and index there, and a restore run through them would put the agent's
files into another branch's state. So the engine trusts the container's programs only while
the daemon, which the agent cannot lie to, says that nothing changed outside the places the
engine's steps never run or read a program from (``changed_outside``); a restore in a
container where something did is done in a new container instead. The engine's own files in
the container (its object store, git's config and attributes) are made anew by every step
(``engine_store``), and the index is used only when it is the one the engine's last step left
(docs/security.md)."""

from __future__ import annotations

import os
import posixpath
import shlex

from trajscope.engine.sandbox.git_store import GIT_ATTRIBUTES, BUILD_EXCLUDES

ENGINE_DIR = "/var/lib/trajscope"  # the engine's files in an agent's container, remade by each step
LOCAL_STORE = f"{ENGINE_DIR}/store.git"
LOCAL_INDEX = f"{ENGINE_DIR}/index"
IGNORED_INDEX = f"{ENGINE_DIR}/ignored-index"  # the index of the base's ignored files
# Where a command may write without making the container untrusted: the engine's steps read
# these as data (git with the store's own config, never a program from there), and execute
# nothing in them; a directory of the image's PATH below one of them is not among them. A
# restore empties them of what commands left (engine.sandbox.docker). HOME is not one: what is
# there (a user site's usercustomize.py, a git config, .bashrc) runs in the next branch's
# commands, so a change there replaces the container at the next restore; python, pytest
# and pip (whose cache is off) write nothing there.
SCRATCH = ("/tmp", "/var/tmp")


def _under(path: str, top: str) -> bool:
    return path == top or path.startswith(top.rstrip("/") + "/")


def _free_tops(repo: str) -> list[str]:
    return [posixpath.normpath(repo), ENGINE_DIR, *SCRATCH]


def _executable(exec_path: str) -> list[str]:
    return [posixpath.normpath(p) for p in exec_path.split(":") if p.startswith("/")]


def changed_outside(changes: list[dict] | None, baseline: set[str], repo: str, exec_path: str) -> list[str]:
    """The paths the container's writable layer changed (``docker diff``) outside the
    repository, the scratch places and the engine's own folder, and not already changed when
    the container was made (``baseline``: the mount points Docker adds). A folder listed
    because of what changed below it is not counted itself (as in ``upper_changes``)."""
    free, executable = _free_tops(repo), _executable(exec_path)
    paths = [posixpath.normpath(str(change.get("Path", ""))) for change in changes or []]
    above = {posixpath.dirname(p) for p in paths}
    found = []
    for path in paths:
        if path in baseline or path in above:
            continue
        if any(_under(path, top) for top in free) and not any(_under(path, p) for p in executable):
            continue
        found.append(path)
    return found


def upper_changes(upper: str, baseline: set[str], repo: str, exec_path: str, stop: int = 20) -> list[str]:
    """``changed_outside`` read from the container's upper layer on this machine (overlay2),
    which the daemon names: what the layer holds outside the free places, up to ``stop`` paths.
    The daemon's own diff walks the whole layer, the repository copy included, and costs
    about half a second; this looks only where nothing may change (a fraction of a millisecond).
    A file, a link, a deletion (a whiteout) or an empty folder counts; a folder with entries
    is only there because of what is below it. Links are never followed. OSError when the
    layer cannot be read here."""
    free, executable = _free_tops(repo), _executable(exec_path)
    found: list[str] = []
    stack = [(upper, "/", 0)]
    while stack and len(found) < stop:
        real, path, depth = stack.pop()
        if depth > 64:
            found.append(path)  # nothing the engine's steps make goes this deep
            continue
        try:
            with os.scandir(real) as entries:
                children = [(e.path, posixpath.join(path, e.name), e.is_dir(follow_symlinks=False)) for e in entries]
        except OSError:
            if path == "/":
                raise  # the caller asks the daemon instead
            children = None
        if not children and path != "/":
            if path not in baseline:
                found.append(path)
            continue
        for child_real, child, is_dir in children or []:
            if any(_under(child, top) for top in free) and not any(
                _under(p, child) or _under(child, p) for p in executable
            ):
                continue
            if is_dir:
                stack.append((child_real, child, depth + 1))
            elif child not in baseline:
                found.append(child)
    return found[:stop]


# Both indexes the engine keeps (the state's files, the base's ignored ones), as one hash.
_SUM = (
    f"{{ git hash-object --no-filters --stdin < {LOCAL_INDEX}; "
    f"git hash-object --no-filters --stdin < {IGNORED_INDEX} 2>/dev/null || echo none; }} "
    "| git hash-object --no-filters --stdin"
)


def engine_store(keeper_objects: str, index_sum: str) -> str:
    """Shell lines that make the engine's store in the container anew: its config, attributes,
    excludes and alternates are the engine's own, and it holds no object the agent could have
    put there (the session's store, read-only, lends every saved one). The index, git's
    record of the files it last saw, is kept only when its hash is ``index_sum`` (what the
    engine's last step left); otherwise git reads every file again."""
    q = shlex.quote
    return (
        "set -e\n"
        f"if [ -L {ENGINE_DIR} ] || [ ! -d {ENGINE_DIR} ]; then rm -rf {ENGINE_DIR}; mkdir -p {ENGINE_DIR}; fi\n"
        f"rm -rf {LOCAL_STORE}\n"
        f"GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null git init -q --bare --template= {LOCAL_STORE}\n"
        f"mkdir -p {LOCAL_STORE}/info {LOCAL_STORE}/objects/info\n"
        f"printf '%s\\n' {q(keeper_objects)} > {LOCAL_STORE}/objects/info/alternates\n"
        f"printf '%s\\n' {q(chr(10).join(BUILD_EXCLUDES))} > {LOCAL_STORE}/info/exclude\n"
        f"printf '%s\\n' {q(GIT_ATTRIBUTES)} > {LOCAL_STORE}/info/attributes\n"
        # a link or a FIFO at its name is never opened: it goes
        f"if [ -L {IGNORED_INDEX} ] || {{ [ -e {IGNORED_INDEX} ] && [ ! -f {IGNORED_INDEX} ]; }}; "
        f"then rm -rf {IGNORED_INDEX}; fi\n"
        f'if [ -L {LOCAL_INDEX} ] || [ ! -f {LOCAL_INDEX} ] || [ "$(export GIT_DIR={LOCAL_STORE}; {_SUM})" '
        f"!= {q(index_sum or 'none')} ]; then rm -rf {LOCAL_INDEX} {IGNORED_INDEX}; fi\n"
    )


class LayerCheck:
    """The check of one container: where its layer is read, and what Docker put there itself."""

    def __init__(self, container, repo: str):
        self.container, self.repo = container, repo
        env = (container.attrs.get("Config") or {}).get("Env") or []
        self.exec_path = next((e[5:] for e in env if e.startswith("PATH=")), "/usr/bin:/bin")
        # where the daemon's layer is on this machine it is read here (docker diff costs ~0.5 s)
        upper = ((container.attrs.get("GraphDriver") or {}).get("Data") or {}).get("UpperDir") or ""
        self.upper = upper if upper.startswith("/") and os.access(upper, os.R_OK | os.X_OK) else ""
        self.baseline: set[str] = set()
        # what Docker itself adds to the layer (its init, the store's mount point) is no agent's
        self.baseline = set(self.untrusted(stop=1000))

    def untrusted(self, stop: int = 20) -> list[str]:
        """What a command changed in the container that the engine's steps could run (its
        programs, libraries, configuration), as the daemon's layer of the container shows."""
        import docker.errors

        if self.upper:
            try:
                return upper_changes(self.upper, self.baseline, self.repo, self.exec_path, stop)
            except OSError:
                pass  # the layer moved or went: ask the daemon
        try:
            changes = self.container.diff()
        except docker.errors.DockerException:
            return ["(the container is gone)"]
        return changed_outside(changes, self.baseline, self.repo, self.exec_path)


# Printed last by every engine step that leaves the index, so the next step can tell whether
# the agent changed it meanwhile.
INDEX_SUM = f"{_SUM}\n"
