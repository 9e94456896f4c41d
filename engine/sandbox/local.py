"""LocalSandbox: the embedded default; needs no daemon (docs/architecture.md section 3).

The repository is copied into a temporary directory. Every command runs under
bubblewrap (its own PID and network namespaces over a read-only view of the
system), in its own process group, is killed with its children at its timeout,
and is bounded by resource limits: address space for memory hogs, a process
count for fork bombs (see ``confine`` for how root confines them), and a disk
quota (``quota``); the snapshot store a session's sandboxes share is bounded too
(``local_store``). Without a working bubblewrap it refuses to start; the same
sandbox without bubblewrap (kind ``none``) exists only for a user who asks for
it by name.
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import time
from pathlib import Path

from trajscope.engine.sandbox.base import OUTPUT_CAP, SandboxError, StateRef
from trajscope.engine.sandbox.dir_watch import DirWatch
from trajscope.engine.sandbox.git_store import GitStore, git_env
from trajscope.engine.sandbox.confine import (
    cgroup_name,
    bwrap_program,
    bwrap_status,
    empty_cgroup,
    kill_cgroup_members,
    kill_group,
    kill_user_processes,
    pids_cgroup,
    protect_engine,
    refusal,
    warn_once,
)
from trajscope.engine.sandbox.host_files import (
    as_git_keeps,
    check_root,
    chown_tree,
    read_text,
    resolve,
    write_text,
)
from trajscope.engine.sandbox.local_commands import LocalCommands
from trajscope.engine.sandbox.local_states import LocalStates
from trajscope.engine.sandbox.local_store import LocalStore, reap_leftovers, remove_tree, store_limit
from trajscope.engine.sandbox.output import OutputTooLarge, run_bounded
from trajscope.engine.sandbox.programs import require
from trajscope.engine.sandbox.quota import DISK_MB, DiskQuota, tree_usage
from trajscope.engine.sandbox.uids import NoUidLeft, UidLease

READ_LIMIT = 16 << 20  # bytes the file tools read from one file
PATCH_LIMIT = 256 << 20  # bytes of diff the snapshot store may print

__all__ = ["PATCH_LIMIT", "LocalSandbox", "reap_leftovers"]  # reap_leftovers: `trajscope sandbox clean`


class LocalSandbox(LocalCommands, LocalStates):
    """A working copy in a temporary directory; commands under bubblewrap, in process groups.

    ``isolate=False`` is ``--sandbox none``: the same sandbox without bubblewrap, which the
    user must ask for by name (its ``kind`` says so)."""

    kind = "local"

    def __init__(
        self,
        source: str | os.PathLike | None,
        *,
        base_dir: str | None = None,
        memory_mb: int = 4096,
        max_processes: int = 256,
        output_cap: int = OUTPUT_CAP,
        disk_mb: int = DISK_MB,
        isolate: bool = True,
        output_dir: str | os.PathLike | None = None,
        store_mb: int | None = None,
        _shared: LocalStore | None = None,
        _ref: StateRef | None = None,
    ):
        # Before anything is made: without a working bubblewrap no command may ever run.
        usable, why = bwrap_status(as_other_user=os.geteuid() == 0) if isolate else (False, "")
        if isolate and not usable:
            raise SandboxError(refusal(why))
        # The very file the check ran, never a name looked up again in a PATH a user can write.
        self._bwrap = bwrap_program(as_other_user=os.geteuid() == 0) if isolate else ""
        self._bash = require("bash")
        self.isolated = isolate
        self.kind = "local" if isolate else "none"
        self.memory_mb, self.max_processes, self.output_cap = memory_mb, max_processes, output_cap
        self.disk_mb = disk_mb
        self._shared = _shared or LocalStore(base_dir, store_limit(store_mb))
        self._n = self._shared.acquire()
        self._closed = False
        self._opened = False  # a sandbox that never opened is never parked
        self._groups: set[int] = set()
        self._runs = itertools.count()
        self.dir = self._shared.root / f"sb{self._n}"
        self.repo = str(self.dir / "repo")
        self._repo_real = os.path.realpath(self.repo)  # fixed now: the root is never re-resolved
        self._home = self.dir / "home"
        self._quota = DiskQuota(self.dir, (0, 0), 0)  # replaced once the copy is there
        self._outputs = Path(output_dir) if output_dir else self._shared.private / "outputs"
        self._output_prefix = f"sb{self._n}-"
        self._uid: int | None = None
        self._watch: DirWatch | None = None
        self._watch_refused = False
        self._lease: UidLease | None = None
        self._cgroup: Path | None = None
        if os.geteuid() == 0:
            # Root's commands never run as root: a user of their own, with the cgroup (where one
            # can be made) for the process limit and for killing all they started.
            try:
                self._lease = UidLease()
            except NoUidLeft as exc:
                self._shared.release()
                raise SandboxError(str(exc)) from None
            self._uid = self._lease.uid
            self._cgroup = pids_cgroup(cgroup_name(self._shared.root.name, self._n), max_processes)
        self.notice = (
            ""
            if self.isolated
            else (
                f"--sandbox none: the agent's commands run UNCONFINED, with the network, and can read and "
                f"change your files as {'a user of their own' if self._uid is not None else 'you'}"
            )
        )  # one line for all forks
        if not self.isolated:
            warn_once(self.notice)
            protect_engine()
        self._git = GitStore(str(self._shared.store), self.repo, str(self._shared.private / f"index{self._n}"))
        self._ignored_index = str(self._shared.private / f"ignored{self._n}")
        try:
            self._home.mkdir(parents=True)
            self._outputs.mkdir(parents=True, exist_ok=True, mode=0o700)
            if _shared is None:
                if source is None or not Path(source).is_dir():
                    raise SandboxError(f"repository {source} is not a directory")
                # no .git: the states live in the engine's store, and a nested repository's
                # files are then files of the repository like any other (saved, in every fork)
                shutil.copytree(source, self.repo, symlinks=True, ignore=shutil.ignore_patterns(".git"))
                as_git_keeps(self.repo)
                self._chown(Path(self.repo))
                self._shared.size = tree_usage(self.dir)
                self._quota = DiskQuota(self.dir, self._shared.size, disk_mb << 20, used=self._shared.size)
                self._shared.base = self._git_script(self._git.init()).strip()
                self._shared.known.add(self._shared.base)
                # the base's ignored files (built in place) are saved apart: a fork's new work
                # tree gets them, and a restore puts them back as they were
                tree, _, listed = self._git_bytes(self._git.save_ignored(self._ignored_index)).partition(b"\n")
                self._shared.ignored = tree.decode().strip()
                self._shared.base_untracked = frozenset(listed.split(b"\0")) - {b""}
                # the work tree is the base's now, as after a restore: watched from here, so
                # the snapshots before the first restore look only where entries changed too
                self._watch_folders(full=True)
            else:
                Path(self.repo).mkdir()
                self._quota = DiskQuota(self.dir, self._shared.size, disk_mb << 20, used=tree_usage(self.dir))
                self.restore(_ref or self._shared.base)
        except BaseException:
            self.close()
            raise
        self._limit_nproc = self._process_limit()
        self._opened = True

    def _git_script(self, script: str, timeout: float = 120, limit: int = PATCH_LIMIT) -> str:
        return self._git_bytes(script, timeout, limit).decode("utf-8", errors="replace")

    def _git_bytes(self, script: str, timeout: float = 120, limit: int = PATCH_LIMIT) -> bytes:
        """Run a snapshot-store script on the host: git with a HOME and config of the
        engine's (see GitStore), bounded in time and in what it prints."""
        self._check_root()
        env = git_env(str(self._shared.private / "home"))
        # a git killed at its deadline leaves its index's lock, and every later step of the
        # sandbox failed on it ("remove the file manually to continue"): no other git uses this
        # sandbox's indexes (its steps run one at a time)
        for index in (self._git.index, self._ignored_index):
            Path(index + ".lock").unlink(missing_ok=True)
        try:
            code, out, err = run_bounded([self._bash, "-c", script], env=env, timeout=timeout, limit=limit)
        except subprocess.TimeoutExpired:
            raise SandboxError(f"snapshot store: git did not finish in {timeout:g} s") from None
        except OutputTooLarge:
            raise SandboxError(f"snapshot store: the change is larger than {limit:,} bytes") from None
        if code != 0:
            lines = err.decode(errors="replace").strip().splitlines()
            raise SandboxError(f"snapshot store: {lines[-1] if lines else 'git failed'}")
        return out

    # -- editor (engine/sandbox/host_files.py) -----------------------------------------

    def _check_root(self) -> None:
        check_root(self.repo, self._repo_real)

    def read(self, path: str) -> str:
        self._check_open()
        return read_text(resolve(path, self.repo, self._repo_real), path, READ_LIMIT)

    def write(self, path: str, text: str) -> None:
        self._check_open()
        real = resolve(path, self.repo, self._repo_real)
        write_text(real, path, text)
        self._chown(Path(real))

    # -- state (snapshot, restore, diff: local_states.py) -------------------------------

    def fork(self, ref: StateRef) -> "LocalSandbox":
        """A sandbox at state ``ref``: one this session closed, restored to ``ref`` (it costs what
        differs between the two states), else a new one, which copies the files of ``ref``."""
        self._check_open()
        while (parked := self._shared.unpark()) is not None:
            if parked._reopen(ref, self._outputs):
                return parked
        return LocalSandbox(
            None,
            memory_mb=self.memory_mb,
            max_processes=self.max_processes,
            output_cap=self.output_cap,
            disk_mb=self.disk_mb,
            isolate=self.isolated,
            output_dir=self._outputs,
            _shared=self._shared,
            _ref=ref,
        )

    def _reopen(self, ref: StateRef, outputs: Path) -> bool:
        """Open this parked sandbox again at ``ref``; False (and it is gone) where the restore
        failed, so the fork makes a new one. Its uid, cgroup and index are its own as before; its
        processes were all killed when it closed, and the restore removes whatever else its
        commands left (the same restore as a worker's move to another branch)."""
        self._shared.reacquire()
        self._closed = False
        self._outputs = outputs
        try:
            self.restore(ref)
            return True
        except (SandboxError, OSError):
            self._closed = True
            self._teardown()
            self._shared.release()
            return False

    @property
    def base(self) -> StateRef:
        return self._shared.base or ""

    def _chown(self, top: Path) -> None:
        """What the engine wrote becomes the commands' own user's (as root)."""
        if self._uid is not None:
            self._check_root()
            chown_tree(top, self._uid, (self._home, self.dir))

    def _check_open(self) -> None:
        if self._closed:
            raise SandboxError("the sandbox is closed")

    def close(self) -> None:
        """Kill what its commands left; then keep it for the session's next fork, or remove it."""
        if self._closed:
            return
        self._closed = True
        for pgid in list(self._groups):
            kill_group(pgid)
        if self._cgroup is not None:
            for _ in range(50):
                if not kill_cgroup_members(self._cgroup):
                    break
                time.sleep(0.01)
        if self._lease is not None:
            kill_user_processes(self._lease.uid)  # nothing of its commands outlives the close
        if not (self._opened and self._shared.park(self)):
            self._teardown()
        self._shared.release()

    def teardown(self) -> None:
        """Remove a parked sandbox (the session's last sandbox closed)."""
        self._teardown()

    def _teardown(self) -> None:
        if self._watch is not None:
            self._watch.close()
            self._watch = None
        if self._cgroup is not None:
            empty_cgroup(self._cgroup)
        remove_tree(self.dir)
        if self._lease is not None:
            # the next sandbox to lease this uid must not inherit a process of this one's
            kill_user_processes(self._lease.uid)
            self._lease.release()
            self._lease = None

    def __enter__(self) -> "LocalSandbox":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<LocalSandbox {self.repo} isolated={self.isolated}>"
