"""LocalSandbox: the embedded default; needs no daemon (docs/architecture.md section 3).

The repository is copied into a temporary directory. Every command runs in its
own process group (and, where bubblewrap works, its own PID and network
namespaces over a read-only view of the system), is killed with its children
at its timeout, and is bounded by resource limits: address space for memory
hogs and a process count for fork bombs (see ``confine`` for how root confines
them).
"""

from __future__ import annotations

import itertools
import os
import resource
import stat
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from engine.sandbox.base import (
    DEFAULT_TIMEOUT,
    OUTPUT_CAP,
    ExecResult,
    GitStore,
    PathOutsideRepo,
    SandboxError,
    SharedState,
    StateRef,
    cap_output,
    git_env,
    repo_path,
)
from engine.sandbox.confine import (
    cgroup_name,
    UID_BASE,
    alive,
    bwrap_flags,
    bwrap_status,
    count_processes,
    drop_to,
    empty_cgroup,
    kill_cgroup_members,
    kill_group,
    kill_user_processes,
    pids_cgroup,
    protect_engine,
    warn_once,
    reap_cgroups,
)
from engine.sandbox.output import BoundedOutput, OutputTooLarge, collect_output, keep_output, run_bounded

COMMAND_NICE = 10  # CPU priority of sandbox commands, below the UI and the engine
READ_LIMIT = 16 << 20  # bytes the file tools read from one file
PATCH_LIMIT = 256 << 20  # bytes of diff the snapshot store may print

def reap_leftovers(base_dir: str | None = None) -> int:
    """Remove what local sandboxes of dead processes left: directories and cgroups."""
    tmp = Path(base_dir or tempfile.gettempdir())
    reaped = 0
    for root in tmp.glob("trajscope-*"):
        try:
            owner = int((root / "owner.pid").read_text())
        except (OSError, ValueError):
            continue
        if not alive(owner):
            shutil.rmtree(root, ignore_errors=True)
            reaped += 1
    if os.geteuid() == 0:
        reaped += reap_cgroups(tmp)
    return reaped



_uid_counter = itertools.count()


class _Shared(SharedState):
    """What a root sandbox and its forks share: the directory and the snapshot store."""

    def __init__(self, base_dir: str | None):
        super().__init__()
        reap_leftovers(base_dir)
        self.root = Path(tempfile.mkdtemp(prefix="trajscope-", dir=base_dir))
        self.root.chmod(0o755)
        (self.root / "owner.pid").write_text(str(os.getpid()))
        # What only the engine may touch (the snapshot store, git's home, indexes, saved
        # outputs) lives in a directory that no sandbox binds and no agent user can enter.
        self.private = self.root / "engine"
        self.private.mkdir(mode=0o700)
        self.store = self.private / "store.git"
        (self.private / "home").mkdir(mode=0o700)

    def release(self) -> bool:
        last = super().release()
        if last:
            shutil.rmtree(self.root, ignore_errors=True)
        return last


class LocalSandbox:
    """A working copy in a temporary directory; commands in process groups."""

    kind = "local"

    def __init__(self, source: str | os.PathLike | None, *, base_dir: str | None = None,
                 memory_mb: int = 4096, max_processes: int = 256, output_cap: int = OUTPUT_CAP,
                 isolate: bool | None = None, output_dir: str | os.PathLike | None = None, _shared: _Shared | None = None, _ref: StateRef | None = None):
        self.memory_mb, self.max_processes, self.output_cap = memory_mb, max_processes, output_cap
        self._shared = _shared or _Shared(base_dir)
        self._n = self._shared.acquire()
        self._closed = False
        self._groups: set[int] = set()
        self._runs = itertools.count()
        self.dir = self._shared.root / f"sb{self._n}"
        self.repo = str(self.dir / "repo")
        self._repo_real = os.path.realpath(self.repo)  # fixed now: the root is never re-resolved
        self._home = self.dir / "home"
        self._outputs = Path(output_dir) if output_dir else self._shared.private / "outputs"
        self._output_prefix = f"sb{self._n}-"
        self._uid: int | None = None
        self._cgroup: Path | None = None
        if os.geteuid() == 0:
            self._cgroup = pids_cgroup(cgroup_name(self._shared.root.name, self._n), max_processes)
            if self._cgroup is None:
                self._uid = UID_BASE + next(_uid_counter) % 900
        usable, why = bwrap_status(self._uid is not None)
        self.isolated = usable if isolate is None else (isolate and usable)
        if isolate and not usable:
            self.close()
            raise SandboxError(f"isolation was asked for but {why}")
        self.notice = "" if self.isolated else (
            f"the local sandbox is NOT isolated ({why or 'isolation is turned off'}): the agent's "
            f"commands run with the network and can read and change your files as "
            f"{'user ' + str(self._uid) if self._uid is not None else 'you'}; install bubblewrap "
            f"or use --sandbox docker")
        if not self.isolated:
            warn_once(self.notice)
            protect_engine()
        self._git = GitStore(str(self._shared.store), self.repo, str(self._shared.private / f"index{self._n}"))
        try:
            self._home.mkdir(parents=True)
            self._outputs.mkdir(parents=True, exist_ok=True, mode=0o700)
            if _shared is None:
                if source is None or not Path(source).is_dir():
                    raise SandboxError(f"repository {source} is not a directory")
                shutil.copytree(source, self.repo, symlinks=True)
                self._chown(Path(self.repo))
                self._shared.base = self._git_script(self._git.init()).strip()
            else:
                Path(self.repo).mkdir()
                self.restore(_ref or self._shared.base)
        except BaseException:
            self.close()
            raise
        self._limit_nproc = self._process_limit()

    # -- commands -------------------------------------------------------------------

    def _process_limit(self) -> int | None:
        if self._cgroup is not None:
            return None  # the cgroup's pids.max is the limit
        uid = self._uid if self._uid is not None else os.getuid()
        return self.max_processes + count_processes(uid)

    def _env(self) -> dict[str, str]:
        path = os.pathsep.join(dict.fromkeys([os.path.dirname(sys.executable),
                                              *os.environ.get("PATH", "/usr/bin:/bin").split(os.pathsep)]))
        return {"PATH": path, "HOME": str(self._home), "TMPDIR": str(self._home), "LANG": "C.UTF-8",
                "TERM": "dumb", "PAGER": "cat", "GIT_PAGER": "cat", "PYTHONDONTWRITEBYTECODE": "1",
                "PYTHONUNBUFFERED": "1", "PIP_NO_INPUT": "1", "NO_COLOR": "1"}

    def _preexec(self) -> None:
        os.nice(COMMAND_NICE)  # an agent's command never starves the app that shows it
        mem = self.memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
        if self._limit_nproc is not None:
            hard = resource.getrlimit(resource.RLIMIT_NPROC)[1]
            soft = self._limit_nproc if hard == resource.RLIM_INFINITY else min(self._limit_nproc, hard)
            resource.setrlimit(resource.RLIMIT_NPROC, (soft, soft))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if self._cgroup is not None:
            with open(self._cgroup / "cgroup.procs", "w") as procs:
                procs.write(str(os.getpid()))
        drop_to(self._uid)

    def _argv(self, command: str) -> list[str]:
        shell = ["bash", "-c", command]
        if not self.isolated:
            return shell
        caps = ["--cap-drop", "ALL"] if os.geteuid() == 0 and self._uid is None else []
        return ["bwrap", *bwrap_flags(self.repo), *caps, "--bind", str(self.dir), str(self.dir), *shell]

    def run(self, command: str, timeout: float = DEFAULT_TIMEOUT) -> ExecResult:
        """Run ``command``; its output comes through a pipe (never a file the agent can
        reach), bounded in memory, read against a deadline even if the command's
        background processes keep the pipe open."""
        self._check_open()
        n = next(self._runs)
        started = time.perf_counter()
        read_end, write_end = os.pipe()
        try:
            proc = subprocess.Popen(self._argv(command), cwd=self.repo, env=self._env(),
                                    stdin=subprocess.DEVNULL, stdout=write_end, stderr=write_end,
                                    start_new_session=True, preexec_fn=self._preexec)
        except OSError as exc:
            os.close(read_end)
            raise SandboxError(f"cannot start a command: {exc}") from exc
        finally:
            os.close(write_end)
        self._groups.add(proc.pid)
        out = BoundedOutput()
        try:
            timed_out = collect_output(read_end, proc, timeout, out, self._kill_leftovers)
        finally:
            os.close(read_end)
            self._groups.discard(proc.pid)
        code = -1 if timed_out else proc.returncode if proc.returncode is not None else -1
        duration = time.perf_counter() - started
        text = out.text()
        if timed_out:
            text += f"\n[command timed out after {timeout:g} s and was killed]"
        shown, truncated = cap_output(text, self.output_cap)
        saved = None
        if truncated:
            saved = keep_output(self._outputs, f"{self._output_prefix}{n}.log", out)
        return ExecResult(shown, code, duration, timed_out, truncated, saved, out.total)

    def _kill_leftovers(self, pgid: int) -> None:
        """Kill what a command left running: its group, and whatever escaped the group."""
        kill_group(pgid)
        if self._cgroup is not None:
            for _ in range(20):
                if not kill_cgroup_members(self._cgroup):
                    break
                time.sleep(0.005)
        elif self._uid is not None:
            kill_user_processes(self._uid)

    def _git_script(self, script: str, timeout: float = 120, limit: int = PATCH_LIMIT) -> str:
        """Run a snapshot-store script on the host: git with a HOME and config of the
        engine's (see GitStore), bounded in time and in what it prints."""
        self._check_root()
        env = git_env(str(self._shared.private / "home"))
        try:
            code, out, err = run_bounded(["bash", "-c", script], env=env, timeout=timeout, limit=limit)
        except subprocess.TimeoutExpired:
            raise SandboxError(f"snapshot store: git did not finish in {timeout:g} s") from None
        except OutputTooLarge:
            raise SandboxError(f"snapshot store: the change is larger than {limit:,} bytes") from None
        if code != 0:
            lines = err.decode(errors="replace").strip().splitlines()
            raise SandboxError(f"snapshot store: {lines[-1] if lines else 'git failed'}")
        return out.decode("utf-8", errors="replace")

    # -- editor -----------------------------------------------------------------------

    def _check_root(self) -> None:
        """The repository root must still be the directory the engine made: an agent that
        replaced it by a link (to ``/``) would otherwise steer the engine's file tools, git
        and chown to any host path. Such a branch's sandbox is unusable; nothing follows."""
        try:
            st = os.lstat(self.repo)
        except FileNotFoundError:
            raise SandboxError("the repository root was removed by a command") from None
        if not stat.S_ISDIR(st.st_mode) or os.path.realpath(self.repo) != self._repo_real:
            raise SandboxError("the repository root was replaced by a link or a file; "
                               "the engine does not follow it")

    def _repair_root(self) -> None:
        """Before a restore: a repository root that a command removed or replaced (by a
        link, a file) is made an empty directory again, without following anything."""
        try:
            st = os.lstat(self.repo)
        except FileNotFoundError:
            st = None
        if st is not None and not stat.S_ISDIR(st.st_mode):
            os.unlink(self.repo)  # the link itself, never its target
            st = None
        if st is None:
            os.mkdir(self.repo, 0o755)
            if self._uid is not None:
                os.lchown(self.repo, self._uid, self._uid)

    def _resolve(self, path: str) -> str:
        """The real path of ``path``, which must lie inside the repository."""
        self._check_root()
        target = repo_path(path, self.repo)
        real = os.path.realpath(target)
        repo_real = self._repo_real
        if real != repo_real and not real.startswith(repo_real + os.sep):
            raise PathOutsideRepo(f"{path} leads outside the repository")
        return real

    def read(self, path: str) -> str:
        self._check_open()
        real = self._resolve(path)
        # No-follow and non-blocking: a link or a FIFO swapped in after the check is
        # refused, never followed or waited on.
        try:
            fd = os.open(real, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except FileNotFoundError:
            raise SandboxError(f"{path} does not exist") from None
        except OSError as exc:
            raise SandboxError(f"{path} cannot be read ({exc.strerror})") from None
        try:
            st = os.fstat(fd)
            if stat.S_ISDIR(st.st_mode):
                raise SandboxError(f"{path} is a directory")
            if not stat.S_ISREG(st.st_mode):
                raise SandboxError(f"{path} is not a regular file")
            if st.st_size > READ_LIMIT:
                raise SandboxError(f"{path} is larger than {READ_LIMIT:,} bytes; look at it with bash")
            chunks, size = [], 0
            while size <= READ_LIMIT and (chunk := os.read(fd, 1 << 20)):
                chunks.append(chunk)
                size += len(chunk)
            return b"".join(chunks)[:READ_LIMIT].decode("utf-8", errors="replace")
        finally:
            os.close(fd)

    def write(self, path: str, text: str) -> None:
        self._check_open()
        real = self._resolve(path)
        if os.path.isdir(real):
            raise SandboxError(f"{path} is a directory")
        if os.path.lexists(real) and not stat.S_ISREG(os.lstat(real).st_mode):
            raise SandboxError(f"{path} is not a regular file")
        parent = os.path.dirname(real)
        os.makedirs(parent, exist_ok=True)
        if os.path.realpath(parent) != parent:
            raise PathOutsideRepo(f"{path} leads outside the repository")
        try:
            fd = os.open(real, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK, 0o644)
        except OSError as exc:
            raise SandboxError(f"{path} cannot be written ({exc.strerror})") from None
        with os.fdopen(fd, "wb") as fh:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise SandboxError(f"{path} is not a regular file")
            fh.truncate(0)
            fh.write(text.encode("utf-8"))
        self._chown(Path(real))

    # -- state ------------------------------------------------------------------------

    def snapshot(self) -> StateRef:
        self._check_open()
        return self._git_script(self._git.snapshot()).strip()

    def restore(self, ref: StateRef) -> None:
        self._check_open()
        self._repair_root()
        self._git_script(self._git.restore(ref))
        self._chown(Path(self.repo))

    def fork(self, ref: StateRef) -> "LocalSandbox":
        self._check_open()
        return LocalSandbox(None, memory_mb=self.memory_mb, max_processes=self.max_processes,
                            output_cap=self.output_cap, isolate=self.isolated,
                            output_dir=self._outputs if self._output_prefix else None,
                            _shared=self._shared, _ref=ref)

    def diff(self) -> str:
        self._check_open()
        return self._git_script(self._git.diff())

    @property
    def base(self) -> StateRef:
        return self._shared.base or ""

    def _chown(self, top: Path) -> None:
        if self._uid is None:
            return
        self._check_root()
        for where in (top, self._home, self.dir):
            if not where.exists():
                continue
            if where == top and stat.S_ISDIR(os.lstat(where).st_mode):  # never through a link
                for dirpath, dirnames, filenames in os.walk(where):
                    for name in (*dirnames, *filenames):
                        os.lchown(os.path.join(dirpath, name), self._uid, self._uid)
            os.lchown(where, self._uid, self._uid)

    def _check_open(self) -> None:
        if self._closed:
            raise SandboxError("the sandbox is closed")

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for pgid in list(self._groups):
            kill_group(pgid)
        if self._cgroup is not None:
            empty_cgroup(self._cgroup)
        shutil.rmtree(self.dir, ignore_errors=True)
        self._shared.release()

    def __enter__(self) -> "LocalSandbox":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<LocalSandbox {self.repo} isolated={self.isolated}>"
