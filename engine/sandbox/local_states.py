"""How a local sandbox saves and restores its states: the other half of ``LocalSandbox``
(``local.py`` makes, forks and closes it; ``local_commands.py`` runs its commands).

A snapshot and a restore are shell scripts over git (``git_store``) run on the host, with
what git writes measured in a quarantine first (``local_store``). From its opening (a fork's:
its first restore) the sandbox watches its folders (``dir_watch``), so a restore or snapshot looks for
untracked paths only where entries changed; as root, what a restore wrote is handed to the
commands' user and its new stat recorded at once.
"""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

from trajscope.engine.sandbox.base import SandboxError, StateRef
from trajscope.engine.sandbox.dir_watch import DirWatch, folders_to_list, prune_empty, untracked_in, untracked_printed
from trajscope.engine.sandbox.git_lines import ignored_to_put_back
from trajscope.engine.sandbox.git_store import UNTRACKED_MARK, GitStore
from trajscope.engine.sandbox.host_files import chown_paths, chown_tree, repair_root, reset_modes, set_git_modes
from trajscope.engine.sandbox.local_store import (
    LocalStore,
    git_hazards,
    remove_git_entries,
    remove_path,
    remove_untracked,
    shown_path,
)
from trajscope.engine.sandbox.quota import DiskQuota

REFRESH_AFTER = 256  # files a restore wrote past which git's index takes their new stat at once


class LocalStates:
    """The state side of ``LocalSandbox``: what it needs of the sandbox is named below."""

    repo: str
    dir: Path
    disk_mb: int
    _repo_real: str
    _home: Path
    _shared: LocalStore
    _git: GitStore
    _ignored_index: str
    _quota: DiskQuota
    _uid: int | None
    _watch: DirWatch | None
    _watch_refused: bool
    _rules_stat: list[tuple] = []

    def snapshot(self) -> StateRef:
        self._check_open()
        if self._quota.over:  # refused before git reads a byte of it: no slow snapshot of a filled disk
            raise SandboxError(
                f"the sandbox's files passed its disk limit ({self._quota.describe()}); this state is not saved"
            )
        limit = f"the sandbox's disk limit ({self._quota.describe()})"
        self._refuse_waiting_git("this state is not saved")
        quarantine = self._shared.quarantine()
        kept = False
        try:
            git = self._git.quarantined(str(quarantine / "objects"))
            ref, *new = self._git_script(git.snapshot(self.disk_mb << 20, limit, self._new_paths())).split()
            # what it saved gets the mode git saved, so the files hold what a restore or a fork
            # at this state would (their changed ctime makes the next restore write them again)
            self._check_root()
            set_git_modes(self.repo, self._repo_real, self._listed())
            tree = new[0] if new else ""  # a tree saved before keeps its ref
            self._shared.admit(quarantine, ref if tree else "", tree)  # over the store's limit: nothing kept
            kept = True
            self._shared.known.add(ref)
            return ref
        except RecursionError:  # a library's walk (shutil's) recursing through what a command nested
            raise SandboxError(
                "the work tree nests folders or links too deep to save; this state is not saved"
            ) from None
        finally:
            Path(self._git.index + ".changed").unlink(missing_ok=True)
            self._drop(quarantine, index_ok=kept)

    def _refuse_waiting_git(self, outcome: str) -> None:
        """A file a command made where git would wait for ever or follow it out of the work tree
        (local_store.git_hazards) ends the step at once with one sentence, not at git's deadline."""
        self._check_root()
        seen = None if self._watch is None else self._watch.changed()
        for rel, why in git_hazards(self._repo_real, seen):
            raise SandboxError(f"{shown_path(rel)} {why}; {outcome}")

    def _new_paths(self) -> list[bytes] | None:
        """Where a file the index does not track can be since the last restore (the watched
        folders that changed); None where git must look everywhere: no watch, events lost, no
        index, a new .gitignore (a rule can make files anywhere below it count), or too many."""
        seen = None if self._watch is None or not os.path.isfile(self._git.index) else self._watch.changed()
        if seen is None or self._watch.rules or self._rules_stat != self._base_rules():
            return None
        folders = seen[0] | seen[1]
        if not folders:
            return []
        tracked = self._git_bytes(self._git.tracked(folders_to_list(folders))).split(b"\0")
        try:
            paths = untracked_in(self._repo_real, *seen, [p for p in tracked if p])
        except OSError:
            return None
        if sum(len(p) + 3 for p in paths) > 32 << 10 or any(p.endswith(b".gitignore") for p in paths):
            return None
        return paths

    def _base_rules(self) -> list[tuple]:
        """The stat of the base's untracked ``.gitignore`` files (a command may edit one in
        place, which no folder event shows, and its rules reach files anywhere below it)."""
        stats = []
        for path in sorted(p for p in self._shared.base_untracked if p.rpartition(b"/")[2] == b".gitignore"):
            try:
                st = os.lstat(os.path.join(os.fsencode(self._repo_real), path))
                stats.append((path, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns))
            except OSError:
                stats.append((path,))
        return stats

    def _listed(self) -> list[bytes]:
        """The paths the last snapshot staged (``GitStore.snapshot``), from the engine's folder."""
        try:
            return Path(self._git.index + ".changed").read_bytes().split(b"\0")
        except FileNotFoundError:
            return []

    def restore(self, ref: StateRef) -> None:
        self._check_open()
        repair_root(self.repo, self._uid)
        # the sandbox's folder (the repository's and the home's) is the commands' user's: a mode
        # a command gave it (chmod 0 ..) made every later branch's home unreachable
        if stat.S_IMODE(os.lstat(self.dir).st_mode) != 0o755:
            os.chmod(self.dir, 0o755)  # a folder the commands cannot replace (its parent is the engine's)
        scrub = self._quota.over  # what filled it may hide in ignored files: they go before git hashes
        self._clear_home()
        quarantine = self._shared.quarantine()  # what it hashes only to compare is not kept
        restored = False
        # the folders whose entries changed since the last restore: only there can a command
        # have left a path (None: walk them all)
        seen = None if scrub or self._watch is None else self._watch.changed()
        try:
            # git restores a file's run bit only, and no folder's mode: the modes a command set
            # go first (where the watch saw an entry made or changed), so that git and the removal
            # below can write where a command made a folder unwritable
            self._check_root()
            moded = (None,) if seen is None else self._watch.modes_changed() or (None,)
            # an engine that is not root (its commands run as itself) cannot read a file a command
            # made 000 either; as root only the folders need it now, the files once what a command
            # left is removed (a chmod of each would cost as much as the removal)
            reset_modes(self._repo_real, *moded, files=os.geteuid() != 0)
            # what would hold git until its deadline (a FIFO at a .gitattributes, at a nested
            # .git/HEAD) held every restore of the sandbox after it: it goes first (no state
            # holds a FIFO nor a .git)
            for rel, _why in list(git_hazards(self._repo_real, seen)):
                remove_path(os.path.join(os.fsencode(self._repo_real), rel))
            if seen is None or not os.path.isfile(self._git.index):
                # git's walk of every folder (here, or to hash the work tree without an index)
                # asks each untracked one whether it is a nested repository
                remove_git_entries(self._repo_real)
            git = self._git.quarantined(str(quarantine / "objects"))
            script = git.restore(
                ref,
                scrub=scrub,
                changed=self._uid is not None,
                size_limit=self.disk_mb << 20,
                untracked=True,
                ignored=ignored_to_put_back(self._shared.ignored, self._ignored_index),
                known=ref in self._shared.known,
                tracked_in=None if seen is None else folders_to_list(seen[0] | seen[1]),
            )
            self._quota.begin()
            changed, _, untracked = self._git_bytes(script).partition(UNTRACKED_MARK.encode() + b"\0")
            restored = True  # the index is now the state's, all of it in the store
            self._shared.known.add(ref)
            # git leaves what a rule ignores (the agent's .gitignore included): all that was not
            # there at the base goes, or it would reach this state's diff and next snapshot.
            self._check_root()
            try:
                listed, looked = untracked_printed(self._repo_real, seen, untracked)
            except OSError:  # a folder that cannot be read: git walks them all
                listed, looked, seen = self._git_bytes(self._git.untracked()).split(b"\0"), None, None
            remove_untracked(self.repo, listed, self._shared.base_untracked)
            if looked is not None:  # a .git a command made in a watched folder was listed with the rest
                prune_empty(self._repo_real, looked, listed)
            reset_modes(self._repo_real, *moded)
            if self._uid is not None:
                # Only what the restore wrote: a chown changes a file's ctime, which would make
                # the next snapshot hash every file of the repository again.
                self._check_root()
                written = os.fsdecode(changed).split("\0")
                if scrub:
                    chown_tree(Path(self.repo), self._uid, (self._home, self.dir))
                else:
                    written = chown_paths(self.repo, written, self._uid)
                    for where in (self.repo, self._home, self.dir):
                        os.lchown(where, self._uid, self._uid)
                # the chown changed their ctime: git reads them once now (what the restore wrote
                # from the store), or the next restore would write them again
                if scrub or len(written) > REFRESH_AFTER:
                    self._git_bytes(self._git.refresh(self._ignored_index))
                elif written:
                    listed = self._git.index + ".written"
                    Path(listed).write_bytes(b"\0".join(os.fsencode(p) for p in written) + b"\0")
                    try:
                        self._git_bytes(self._git.refresh_paths(listed))
                    finally:
                        Path(listed).unlink(missing_ok=True)
            self._watch_folders(full=seen is None)
        except RecursionError:  # a library's walk (shutil.rmtree's) recursing through what a command nested
            raise SandboxError("the work tree nests folders or links too deep to restore it") from None
        finally:
            self._drop(quarantine, index_ok=restored)
            self._quota.end()  # walks the tree again when it was over: the exact figure decides

    def _watch_folders(self, full: bool) -> None:
        """After a restore: watch the work tree's folders from now on (dir_watch), where the
        system lets this sandbox have watches; else every restore walks them all."""
        if self._watch is None and not self._watch_refused:
            try:
                self._watch = DirWatch(self._repo_real)
            except OSError:
                self._watch_refused = True  # inotify instances used up: not tried again
                return
            full = True
        if self._watch is not None:
            self._watch.watch(full)
            self._rules_stat = self._base_rules()
            if self._watch.closed:  # a watch could not be made: not tried again
                self._watch, self._watch_refused = None, True

    def _clear_home(self) -> None:
        """Every restore starts from an empty home and nothing else in the sandbox's folder: what
        a command left there (a ~/.gitconfig with hooks, a planted tool) is no part of a state."""
        for entry in os.scandir(self.dir):
            if entry.path == self.repo:
                continue
            remove_path(entry.path)  # a link goes, never what it points to
        self._home.mkdir()

    def diff(self) -> str:
        self._check_open()
        self._refuse_waiting_git("no diff can be made")
        quarantine = self._shared.quarantine()
        try:
            return self._git_script(self._git.quarantined(str(quarantine / "objects")).diff())
        finally:
            self._drop(quarantine, index_ok=False)

    def _drop(self, quarantine: Path, index_ok: bool) -> None:
        """Remove a git step's quarantine. The sandbox's index may name objects that were in it
        (they are not kept): unless the step left an index of the store's objects only, the
        index goes too, and the next step builds it again from the files."""
        try:
            with os.scandir(quarantine / "objects") as entries:
                held = any(entries)
        except OSError:
            held = True
        shutil.rmtree(quarantine, ignore_errors=True)
        if held and not index_ok:
            Path(self._git.index).unlink(missing_ok=True)
