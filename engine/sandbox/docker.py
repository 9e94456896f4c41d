"""DockerSandbox: one container per concurrently running branch (docs/architecture.md section 3).

Containers run with no network and with memory, CPU, process and disk limits (the
disk: a storage quota where the daemon has one, else a watch, ``daemon.DiskWatch``). Every
container (and the volume its session's snapshot store lives in) carries the
label ``trajscope.sandbox`` and its owner's host and process id, so that what a
crashed or killed run left behind is removed the next time a sandbox starts,
and what this process made is removed when it exits, Ctrl-C included.

The snapshot store is a bare git repository on a volume that only a *keeper*
container of the session writes; the agents' containers see it read-only (as
the alternate object store of a small store of their own), so a fork is a new
container of the same image with the work tree restored to a ref (no ``docker
commit``), and no agent can change or remove a state another branch saved. A
snapshot sends the new objects to the keeper as a pack, which the keeper
checks (``index-pack --strict``, every object present) before the state counts.

Every exchange with a container has a deadline and a bound: output streams to
the engine through the exec's socket (no file in the container is opened on
the engine's behalf), is kept head and tail (``engine.sandbox.output``), and
when a command ends or times out every process it left in the container is
killed. See docs/security.md.
"""

from __future__ import annotations

import atexit
import io
import itertools
import os
import shlex
import tempfile
import time
import uuid
import weakref
from pathlib import Path

from trajscope.engine.sandbox.base import (
    DEFAULT_TIMEOUT,
    OUTPUT_CAP,
    ExecResult,
    GitStore,
    SandboxError,
    StateRef,
    check_ref,
    cap_output,
    repo_path,
)
from trajscope.engine.sandbox.container import (
    KILL_ALL,
    Sink,
    check_exec,
    put_dir,
    put_file,
    raise_for_editor,
    short_error,
    stream_exec,
)
from trajscope.engine.sandbox.daemon import (
    BASE_IMAGE,
    LABEL,
    DiskWatch,
    remove_container,
    client,
    docker_available,
    reap_leftovers,
    run_with_quota,
)
from trajscope.engine.sandbox.keeper import (
    BASE_IGNORED,
    HELPER_LIMIT,
    HELPER_TIMEOUT,
    KEEPER_STORE,
    STORE_MOUNT,
    KeeperSession,
    fail_start,
    snapshot_script,
)
from trajscope.engine.sandbox.local_store import store_limit
from trajscope.engine.sandbox.output import BoundedOutput, keep_output
from trajscope.engine.sandbox.tamper import (
    INDEX_SUM,
    LOCAL_INDEX,
    LOCAL_STORE,
    SCRATCH,
    LayerCheck,
    engine_store,
)

__all__ = ["BASE_IMAGE", "LABEL", "DockerSandbox", "client", "docker_available", "reap_leftovers"]

PACK_LIMIT = 1 << 30  # bytes of new objects one snapshot may send to the keeper
READ_LIMIT = 16 << 20  # bytes the file tools read from one file
DISK_MB = 4096  # what an agent's container may write beyond its copy of the repository
KILL_TIMEOUT = 20.0
_live: "weakref.WeakSet[DockerSandbox]" = weakref.WeakSet()
_reaped = False


@atexit.register
def _close_all() -> None:
    for sandbox in list(_live):
        try:
            sandbox.close()
        except Exception:  # noqa: BLE001 - best effort at exit
            pass


class DockerSandbox:
    """A container from a task image, with the repository at ``repo``."""

    kind = "docker"

    def __init__(
        self,
        image: str = BASE_IMAGE,
        source: str | os.PathLike | None = None,
        *,
        repo: str = "/repo",
        memory_mb: int = 2048,
        cpus: float = 2.0,
        max_processes: int = 256,
        disk_mb: int = DISK_MB,
        output_cap: int = OUTPUT_CAP,
        output_dir: str | os.PathLike | None = None,
        setup: str = "",
        store_mb: int | None = None,
        _session: KeeperSession | None = None,
        _ref: StateRef | None = None,
    ):
        """``output_dir`` keeps the kept output of capped commands after close (else a temporary one).
        ``setup``: shell lines every command runs after first (a SWE-bench image's ``conda
        activate testbed``), in the same shell, so what they export is the command's environment.
        ``disk_mb``: what the container may write beyond its repository copy; ``store_mb``: what the
        snapshots of the session (this sandbox and its forks) may add to its store, else
        ``TRAJSCOPE_STORE_MB``, else 4 GiB (docs/security.md)."""
        import docker.errors

        global _reaped
        self._client = client()
        if not _reaped:
            reap_leftovers(self._client)
            _reaped = True
        self.image, self.repo, self.setup = image, repo, setup
        self.memory_mb, self.cpus, self.max_processes, self.output_cap = memory_mb, cpus, max_processes, output_cap
        self.disk_mb = disk_mb
        self.store_mb = store_limit(store_mb) >> 20
        self._disk: DiskWatch | None = None  # None where a storage quota holds the limit
        self._disk_over = 0  # bytes the container held when the watch stopped it
        self.notice = ""
        self._closed = False
        self._runs = itertools.count()
        self.container = None
        self._keep_pid = ""
        self._session = None
        limits = dict(
            mem_limit=f"{memory_mb}m",
            memswap_limit=f"{memory_mb}m",
            nano_cpus=int(cpus * 1e9),
            pids_limit=max_processes,
        )
        if _session is None:
            try:
                self._client.images.get(image)
            except docker.errors.ImageNotFound:
                hint = " (build it with `trajscope sandbox build-image`)" if image == BASE_IMAGE else ""
                if image.startswith("swebench/sweb.eval."):
                    instance = image.split(".", 3)[-1].rsplit(":", 1)[0].replace("_1776_", "__")
                    hint = (
                        f" (pull it with `docker pull {image}`, or build it with the SWE-bench harness: "
                        f"`python -m swebench.harness.prepare_images --instance_ids {instance}`)"
                    )
                raise SandboxError(f"Docker image {image} is not there{hint}") from None
            if source is not None and not Path(source).is_dir():
                raise SandboxError(f"repository {source} is not a directory")
            _session = KeeperSession(
                self._client,
                image,
                output_dir,
                repo,
                Path(source) if source is not None else None,
                limits,
                self.store_mb << 20,
            )
        self._session = _session
        self._n = _session.acquire()
        self._git = GitStore(LOCAL_STORE, repo, LOCAL_INDEX)
        self._limits = limits
        self._starts = 0
        self._dead = False  # the container stopped under a command; the next restore replaces it
        _live.add(self)
        try:
            self._start_container()
            if source is not None and _ref is None and self._n == 0:
                put_dir(self.container, Path(source), repo)
            self.restore(_ref or _session.base)
        except BaseException as exc:
            fail_start(self, image, exc)

    def _start_container(self) -> None:
        """A fresh container of the image for this sandbox, with its own store borrowing
        from the session's (read-only) store."""
        from docker.types import Ulimit

        session = self._session
        self._starts += 1
        suffix = "" if self._starts == 1 else f"-r{self._starts}"
        # No file may outgrow what one snapshot may send (nor the disk limit): this bounds a
        # single file at once, fallocate included, with nothing to watch.
        fsize = min(PACK_LIMIT, self.disk_mb << 20)
        limit = (self.disk_mb << 20) + session.source_bytes
        self.container, quota = run_with_quota(
            self._client,
            self.image,
            limit,
            command=["sleep", "infinity"],
            detach=True,
            init=True,
            network_mode="none",
            labels=session.labels,
            name=f"trajscope-{session.id}-{self._n}{suffix}",
            volumes={session.volume.name: {"bind": STORE_MOUNT, "mode": "ro"}},
            **self._limits,
            ulimits=[Ulimit(name="fsize", soft=fsize, hard=fsize)],
            environment={
                "PAGER": "cat",
                "GIT_PAGER": "cat",
                "TERM": "dumb",
                "LANG": "C.UTF-8",
                "PYTHONDONTWRITEBYTECODE": "1",
                "PYTHONUNBUFFERED": "1",
                "PIP_NO_INPUT": "1",
                # no network, so pip's cache serves nothing; kept out of HOME, where
                # a write replaces the container at the next restore (tamper)
                "PIP_NO_CACHE_DIR": "1",
                "NO_COLOR": "1",
            },
        )
        self._disk = None if quota else DiskWatch(self._client, self.container, limit)
        self._dead = False
        self._disk_over = 0
        self._keep_pid = ""
        self._keep_pid = self._sh("read -r p _ < /proc/1/task/1/children; echo $p").strip()
        if not self._keep_pid.isdigit():
            raise SandboxError("the container's keep-alive process is missing")
        self._sh(f"mkdir -p {shlex.quote(self.repo)}")
        # what the image keeps in the scratch places (before any command of an agent's): a
        # restore removes everything else there
        listed = self._sh("find " + " ".join(SCRATCH) + " -mindepth 1 -maxdepth 1 -print0 2>/dev/null || true")
        self._scratch_kept = sorted(p for p in listed.split("\0") if p)
        self._index_sum = ""  # the hash of the index the engine's last step left
        self._layer = LayerCheck(self.container, self.repo)

    def _store(self) -> str:
        """The engine's store in the container, made anew for one step (engine.sandbox.tamper)."""
        return engine_store(KEEPER_STORE + "/objects", self._index_sum)

    def _took_index(self, line: str) -> None:
        line = line.strip()
        self._index_sum = line if len(line) == 40 and all(c in "0123456789abcdef" for c in line) else ""

    def _replace_dead_container(self) -> None:
        """A command killed the container (its keep-alive process, or a process that could not
        be killed): the branch's states are safe in the session's store, so a new container
        takes its place before the next restore."""
        import docker.errors

        if self.container is not None:
            remove_container(self.container)
        try:
            self._start_container()
        except docker.errors.DockerException as exc:
            raise SandboxError(f"Docker could not start a new container: {short_error(exc)}") from None

    # -- low level --------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed or self.container is None:
            raise SandboxError("the sandbox is closed")

    def _exec(
        self, script: str, sink: Sink, timeout: float = HELPER_TIMEOUT, kill_after: bool = False, watch=None
    ) -> tuple[int | None, bool]:
        self._check_open()
        return stream_exec(
            self._client.api,
            self.container,
            ["bash", "-c", script],
            sink,
            timeout,
            kill=self._kill_all,
            kill_after=kill_after,
            watch=watch,
        )

    def _watch_disk(self, ended: bool = False) -> bool:
        """Whether the container wrote past its disk limit; if so it is killed at once (its
        processes stop writing) and marked dead, to be removed with what it wrote."""
        if self._disk is None or self._dead or not self._disk.check(ended):
            return False
        self._disk_over = self._disk.used
        self._dead = True
        try:
            self.container.kill()
        except Exception:  # noqa: BLE001 - already stopped
            pass
        return True

    def _sh(self, script: str, timeout: float = HELPER_TIMEOUT, limit: int = HELPER_LIMIT) -> str:
        sink = Sink(limit=limit)
        code, timed_out = self._exec(script, sink, timeout)
        return check_exec(sink, code, timed_out, timeout, "in the container").decode("utf-8", errors="replace")

    def _kill_all(self) -> None:
        """Kill every process left in the container (the agent's background work, what
        escaped with setsid or a double fork); if that does not hold, the container goes."""
        if self.container is None or not self._keep_pid or self._dead:
            return
        sink = Sink(limit=4096)
        try:
            code, timed_out = stream_exec(
                self._client.api,
                self.container,
                ["bash", "-c", f"KEEP={self._keep_pid}\n{KILL_ALL}"],
                sink,
                KILL_TIMEOUT,
            )
        except SandboxError:  # the container is gone or stopping: nothing left to kill in it
            self._dead = True
            return
        if timed_out or code not in (0, None):
            self.notice = "a process in the container could not be killed; the container was removed"
            self._dead = True
            remove_container(self.container)

    # -- commands ---------------------------------------------------------------------

    def run(self, command: str, timeout: float = DEFAULT_TIMEOUT) -> ExecResult:
        """Run ``command``: its output streams to the engine (no file in the container is
        involved), bounded head and tail; at its end or its deadline every process it
        left in the container is killed."""
        n = next(self._runs)
        out = BoundedOutput()
        script = (f"{self.setup}\n" if self.setup else "") + (
            f"cd {shlex.quote(self.repo)} || exit 90\nexec bash -c {shlex.quote(command)} < /dev/null 2>&1\n"
        )
        started = time.perf_counter()
        code, timed_out = self._exec(
            script,
            Sink(out, merge=True),
            timeout,
            kill_after=True,
            watch=self._watch_disk if self._disk is not None else None,
        )
        duration = time.perf_counter() - started
        if self._disk_over or self._watch_disk(ended=True):
            remove_container(self.container)  # what it wrote goes with it, now
            raise SandboxError(
                f"the command wrote more than the sandbox's disk limit ({self.disk_mb:,} MiB); "
                "it was stopped and its container removed"
            )
        if self.container is not None:
            try:
                self.container.reload()
                alive = not self._dead and self.container.status == "running"
            except Exception:  # noqa: BLE001 - removed
                alive = False
            if not alive:
                self._dead = True
                raise SandboxError(
                    "the container stopped during the command (its keep-alive process was killed "
                    "or a process could not be killed)"
                )
        text = out.text()
        if timed_out:
            text += f"\n[command timed out after {timeout:g} s and was killed]"
        elif code == 137:
            text += "\n[the command was killed (signal 9); it may have run out of memory]"
        elif code is None:
            code = -1
        shown, truncated = cap_output(text, self.output_cap)
        saved = None
        if truncated:
            saved = keep_output(self._session.outputs, f"{self._session.id}-{self._n}-{n}.log", out)
        return ExecResult(shown, -1 if timed_out else code, duration, timed_out, truncated, saved, out.total)

    # -- editor -----------------------------------------------------------------------

    def _checked(self, path: str) -> str:
        target = repo_path(path, self.repo)
        return (
            f"t=$(realpath -m -- {shlex.quote(target)})\n"
            f'case "$t" in {shlex.quote(self.repo)}|{shlex.quote(self.repo)}/*) ;; '
            "*) echo 'outside' >&2; exit 3;; esac\n"
        )

    def _editor(self, script: str, path: str, verb: str) -> bytes:
        sink = Sink(limit=READ_LIMIT + 1)
        code, timed_out = self._exec(script, sink)
        if timed_out:
            raise SandboxError(f"could not {verb} {path}: no answer in {HELPER_TIMEOUT:g} s")
        raise_for_editor(code if code is not None else 1, sink.err.data(), path, verb, READ_LIMIT)
        return bytes(sink.out)

    def read(self, path: str) -> str:
        out = self._editor(
            self._checked(path)
            + (
                '[ -d "$t" ] && exit 5\n[ -e "$t" ] || exit 4\n[ -f "$t" ] || exit 6\n'
                f'[ "$(stat -c %s -- "$t")" -le {READ_LIMIT} ] || exit 7\n'
                f'exec head -c {READ_LIMIT} -- "$t"\n'
            ),
            path,
            "read",
        )
        return out.decode("utf-8", errors="replace")

    def write(self, path: str, text: str) -> None:
        self._check_open()
        data = text.encode("utf-8")
        name = f"ts-in-{uuid.uuid4().hex}"
        try:
            put_file(self.container, "/tmp", name, io.BytesIO(data), len(data))
        except Exception as exc:  # noqa: BLE001 - docker's or ours: one line
            raise SandboxError(f"could not write {path}: {short_error(exc)}") from None
        self._editor(
            self._checked(path)
            + (
                f"src=/tmp/{name}\ntrap 'rm -f \"$src\"' EXIT\n"
                '[ -d "$t" ] && exit 5\n[ -e "$t" ] && [ ! -f "$t" ] && exit 6\n'
                'mkdir -p -- "$(dirname -- "$t")" && cat "$src" > "$t"\n'
            ),
            path,
            "write",
        )

    # -- state ------------------------------------------------------------------------

    def snapshot(self) -> StateRef:
        """Commit the work tree in the container's own store and send what is new to the
        keeper, which checks it; the state counts once the keeper holds all of it."""
        base, room = self._session.base, self._session.room()
        limit = min(PACK_LIMIT, room)
        over = (
            f"the files changed since the last saved state hold more than {PACK_LIMIT >> 20:,} MiB, "
            "which is more than one state may save"
            if limit == PACK_LIMIT
            else f"the files changed since the last saved state hold more than the {room >> 20:,} MiB the "
            f"session's snapshot store has left of its {self.store_mb:,} MiB (TRAJSCOPE_STORE_MB); "
            "this state is not saved"
        )
        script = self._store() + snapshot_script(self._git._prelude(), base, limit, over, INDEX_SUM)
        with tempfile.SpooledTemporaryFile(8 << 20) as spool:
            sink = Sink(spool, PACK_LIMIT + 82)
            code, timed_out = self._exec(script, sink)
            check_exec(sink, code, timed_out, HELPER_TIMEOUT, "saving the state")
            spool.seek(0)
            commit = spool.read(41).decode("ascii", errors="replace").strip()
            check_ref(commit)
            self._took_index(spool.read(41).decode("ascii", errors="replace"))
            size = sink.size - 82
            # What the container's git made of its files becomes this branch's state only: the
            # keeper checks that it is whole, not that it is the files (docs/security.md).
            self._session.ingest(spool, size if size > 32 else 0, commit)
        return commit

    def restore(self, ref: StateRef) -> None:
        """Put the work tree in state ``ref``. A restore runs git and a shell in the container, so
        it is done in a new container of the image (as for a dead one) where a command changed
        anything there but the repository and the scratch places (the agent replaced a program,
        a library, a configuration: engine.sandbox.tamper), or where the container cannot do it
        (the agent wrecked its store): every saved state is in the session's store, so the
        damage ends with the branch that did it."""
        self._check_open()
        if self._dead:
            self._replace_dead_container()
        elif changed := self._layer.untrusted():
            more = f" and {len(changed) - 1:,} more" if len(changed) > 1 else ""
            self.notice = f"a command changed {changed[0]}{more} in the container; a new one took its place"
            self._replace_dead_container()
        try:
            self._took_index(self._sh(self._restore_script(ref)))
        except SandboxError:
            if not self._session.holds(ref):
                raise  # a state no one saved: a new container would not know it either
            self.notice = "the container could not restore a saved state (its store was damaged); it was replaced"
            self._replace_dead_container()
            self._took_index(self._sh(self._restore_script(ref)))

    def _restore_script(self, ref: StateRef) -> str:
        """The restore, run where the layer check trusts the container's programs. Besides the
        saved files it removes every untracked path but those git ignored in the base (the
        work tree's own ignore rules are the agent's to write, so a file it hid that way would
        otherwise outlive the restore and join the next branch's state), and what commands
        left in the scratch places (a later branch could import or source it from there)."""
        q = shlex.quote(self.repo)
        kept = "|".join(shlex.quote(p) for p in self._scratch_kept) or "''"
        # a repository root that a command removed or replaced (a link, a file) is made an
        # empty directory again before git fills it, so git never walks through a link
        return (
            f"if [ -L {q} ] || [ ! -d {q} ]; then rm -f {q}; mkdir -p {q}; fi\n"
            + "for f in "
            + " ".join(f"{d}/* {d}/.[!.]* {d}/..?*" for d in SCRATCH)
            + "; do\n"
            f'  case "$f" in {kept}) ;; *) if [ -e "$f" ] || [ -L "$f" ]; then rm -rf -- "$f"; fi;; esac\n'
            "done\n"
            + self._store()
            + self._git.restore(ref)
            # only the engine's patterns of the base's ignored paths count here, never a
            # .gitignore of the work tree's; git lists no path below a link
            + f"g ls-files -z -o --exclude-from={BASE_IGNORED} | xargs -0 -r rm -rf --\n"
            + INDEX_SUM
        )

    def fork(self, ref: StateRef) -> "DockerSandbox":
        self._check_open()
        return DockerSandbox(
            self.image,
            repo=self.repo,
            memory_mb=self.memory_mb,
            cpus=self.cpus,
            max_processes=self.max_processes,
            disk_mb=self.disk_mb,
            output_cap=self.output_cap,
            setup=self.setup,
            store_mb=self.store_mb,
            _session=self._session,
            _ref=ref,
        )

    def diff(self) -> str:
        """The work tree against the base, as the keeper computes it from the saved state."""
        return self._session.diff(self.snapshot())

    @property
    def base(self) -> StateRef:
        return self._session.base or ""

    def close(self) -> None:
        if self._closed and self.container is None:
            return
        self._closed = True
        _live.discard(self)
        if self.container is not None:
            remove_container(self.container)
            self.container = None
        if self._session is not None:
            self._session.release()
            self._session = None

    def __enter__(self) -> "DockerSandbox":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        name = self.container.name if self.container is not None else "-"
        return f"<DockerSandbox {name} {self.image}>"
