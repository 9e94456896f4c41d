"""How a local sandbox runs one command: confined, bounded, and killed with all it started.

The other half of ``LocalSandbox`` (``local.py`` keeps its files and states). A command runs
under bubblewrap (its own PID and network namespaces over a read-only view of the system; see
``confine``) as the sandbox's own user where the engine is root, in its own process group,
with an address-space limit, a process limit (the cgroup's, or ``RLIMIT_NPROC``), a one-file
size limit and the disk watch (``quota``); its output comes through a pipe, bounded, read
against a deadline; whatever it leaves running is killed at its end.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from trajscope.engine.sandbox.base import DEFAULT_TIMEOUT, ExecResult, SandboxError, cap_output
from trajscope.engine.sandbox.confine import (
    bwrap_flags,
    count_processes,
    drop_argv,
    drop_to,
    inner_shell,
    kill_cgroup_members,
    kill_group,
    kill_user_processes,
)
from trajscope.engine.sandbox.output import BoundedOutput, collect_output, keep_output
from trajscope.engine.sandbox.quota import POLL_S, DiskQuota
from trajscope.engine.sandbox.seccomp import program_fd

COMMAND_NICE = 10  # CPU priority of sandbox commands, below the UI and the engine


class LocalCommands:
    """The command side of ``LocalSandbox``: what it needs of the sandbox is named below."""

    repo: str
    dir: Path
    isolated: bool
    memory_mb: int
    max_processes: int
    output_cap: int
    disk_mb: int
    _bwrap: str
    _bash: str
    _home: Path
    _uid: int | None
    _cgroup: Path | None
    _limit_nproc: int | None
    _quota: DiskQuota
    _groups: set[int]
    _outputs: Path
    _output_prefix: str
    _runs: Iterator[int]
    _check_open: Callable[[], None]

    def _process_limit(self) -> int | None:
        if self._cgroup is not None:
            return None  # the cgroup's pids.max is the limit
        uid = self._uid if self._uid is not None else os.getuid()
        return self.max_processes + count_processes(uid)

    def _env(self) -> dict[str, str]:
        path = os.pathsep.join(
            dict.fromkeys([os.path.dirname(sys.executable), *os.environ.get("PATH", "/usr/bin:/bin").split(os.pathsep)])
        )
        return {
            "PATH": path,
            "HOME": str(self._home),
            "TMPDIR": str(self._home),
            "LANG": "C.UTF-8",
            "TERM": "dumb",
            "PAGER": "cat",
            "GIT_PAGER": "cat",
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONUNBUFFERED": "1",
            "PIP_NO_INPUT": "1",
            "NO_COLOR": "1",
        }

    def _preexec(self) -> None:
        os.nice(COMMAND_NICE)  # an agent's command never starves the app that shows it
        mem = self.memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
        disk = self.disk_mb << 20  # one file: bounded at once, no watching needed
        resource.setrlimit(resource.RLIMIT_FSIZE, (disk, disk))
        if self._limit_nproc is not None:
            hard = resource.getrlimit(resource.RLIMIT_NPROC)[1]
            soft = self._limit_nproc if hard == resource.RLIM_INFINITY else min(self._limit_nproc, hard)
            resource.setrlimit(resource.RLIMIT_NPROC, (soft, soft))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if self._cgroup is not None:
            with open(self._cgroup / "cgroup.procs", "w") as procs:
                procs.write(str(os.getpid()))
        if not self.isolated:
            drop_to(self._uid)  # under bubblewrap, drop_argv does it inside

    def _argv(self, command: str, seccomp: int | None) -> list[str]:
        if not self.isolated:
            return [self._bash, "-c", command]
        drop = drop_argv(self._uid) if self._uid is not None else []
        shell = inner_shell(command)
        return [
            self._bwrap,
            *bwrap_flags(self.repo, tmp_bytes=self.disk_mb << 20, writable=(str(self.dir),)),
            "--seccomp",
            str(seccomp),
            *drop,
            *shell,
        ]

    def run(self, command: str, timeout: float = DEFAULT_TIMEOUT) -> ExecResult:
        """Run ``command``; its output comes through a pipe (never a file the agent can
        reach), bounded in memory, read against a deadline even if the command's
        background processes keep the pipe open."""
        self._check_open()
        n = next(self._runs)
        started = time.perf_counter()
        self._quota.begin()
        read_end, write_end = os.pipe()
        seccomp = program_fd() if self.isolated else None
        try:
            proc = subprocess.Popen(
                self._argv(command, seccomp),
                cwd=self.repo,
                env=self._env(),
                stdin=subprocess.DEVNULL,
                stdout=write_end,
                stderr=write_end,
                start_new_session=True,
                preexec_fn=self._preexec,
                pass_fds=(seccomp,) if seccomp is not None else (),
            )
        except OSError as exc:
            os.close(read_end)
            raise SandboxError(f"cannot start a command: {exc}") from exc
        finally:
            os.close(write_end)
            if seccomp is not None:
                os.close(seccomp)
        self._groups.add(proc.pid)
        out = BoundedOutput()
        done, killed = threading.Event(), threading.Event()
        watch = threading.Thread(
            target=self._watch_disk, args=(proc.pid, done, killed), daemon=True, name="trajscope-disk-watch"
        )
        watch.start()
        try:
            timed_out = collect_output(read_end, proc, timeout, out, self._kill_leftovers)
        finally:
            done.set()
            watch.join()
            os.close(read_end)
            self._groups.discard(proc.pid)
            over = self._quota.end()
        code = -1 if timed_out or killed.is_set() else proc.returncode if proc.returncode is not None else -1
        duration = time.perf_counter() - started
        text = out.text()
        if timed_out:
            text += f"\n[command timed out after {timeout:g} s and was killed]"
        if over:
            text += (
                f"\n[the sandbox's files passed its disk limit ({self._quota.describe()})"
                f"{': the command was killed' if killed.is_set() else ''}; this state cannot be saved]"
            )
        shown, truncated = cap_output(text, self.output_cap)
        saved = None
        if truncated:
            saved = keep_output(self._outputs, f"{self._output_prefix}{n}.log", out)
        return ExecResult(shown, code, duration, timed_out, truncated, saved, out.total)

    def _watch_disk(self, pgid: int, done: threading.Event, killed: threading.Event) -> None:
        """Kill the command once the sandbox's files pass the disk quota."""
        while not done.wait(POLL_S):
            if self._quota.check():
                killed.set()
                self._kill_leftovers(pgid)
                return

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
