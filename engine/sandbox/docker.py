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
import itertools
import os
import shlex
import tempfile
import weakref
from pathlib import Path

from trajscope.engine.sandbox.base import OUTPUT_CAP, SandboxError, StateRef
from trajscope.engine.sandbox.git_store import GitStore, check_ref
from trajscope.engine.sandbox.container import (
    Sink,
    check_exec,
    put_dir,
    short_error,
)
from trajscope.engine.sandbox.docker_commands import COMMAND_ENV, ContainerCommands
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
    HELPER_TIMEOUT,
    KEEPER_STORE,
    STORE_MOUNT,
    KeeperSession,
    fail_start,
)
from trajscope.engine.sandbox.docker_steps import restore_script, snapshot_script
from trajscope.engine.sandbox.local_store import store_limit
from trajscope.engine.sandbox.tamper import (
    INDEX_SUM,
    IGNORED_INDEX,
    LOCAL_INDEX,
    LOCAL_STORE,
    SCRATCH,
    LayerCheck,
    engine_store,
)

__all__ = ["BASE_IMAGE", "LABEL", "DockerSandbox", "client", "docker_available", "reap_leftovers"]

PACK_LIMIT = 1 << 30  # bytes of new objects one snapshot may send to the keeper
DISK_MB = 4096  # what an agent's container may write beyond its copy of the repository
_live: "weakref.WeakSet[DockerSandbox]" = weakref.WeakSet()
_reaped = False


@atexit.register
def _close_all() -> None:
    for sandbox in list(_live):
        try:
            sandbox.close()
        except Exception:  # noqa: BLE001 - best effort at exit
            pass


class DockerSandbox(ContainerCommands):
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
        self._shell = None
        self._n = _session.acquire()
        self._git = GitStore(LOCAL_STORE, repo, LOCAL_INDEX)
        self._limits = limits
        self._starts = 0
        self._dead = False  # the container stopped under a command; the next restore replaces it
        self._opened = self._parked = False  # a sandbox that never opened is never parked
        _live.add(self)
        try:
            self._start_container()
            if source is not None and _ref is None and self._n == 0:
                put_dir(self.container, Path(source), repo)
            self.restore(_ref or _session.base)
        except BaseException as exc:
            fail_start(self, image, exc)
        self._opened = True

    def _start_container(self) -> None:
        """A fresh container of the image for this sandbox, with its own store borrowing
        from the session's (read-only) store."""
        from docker.types import Ulimit

        session = self._session
        self._end_shell()  # it belonged to the container this one replaces
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
            environment=COMMAND_ENV,
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
        script = self._store() + snapshot_script(
            self._git._prelude(), base, limit, over, INDEX_SUM, LOCAL_INDEX + ".changed"
        )
        with tempfile.SpooledTemporaryFile(8 << 20) as spool:
            sink = Sink(spool, PACK_LIMIT + 82)
            code, timed_out = self._step(script, sink)
            check_exec(sink, code, timed_out, HELPER_TIMEOUT, "saving the state")
            spool.seek(0)
            commit = spool.read(41).decode("ascii", errors="replace").strip()
            check_ref(commit)
            index_sum = spool.read(41).decode("ascii", errors="replace")
            self._index_sum = ""  # an index naming objects the keeper refused is never trusted
            size = sink.size - 82
            # What the container's git made of its files becomes this branch's state only: the
            # keeper checks that it is whole, not that it is the files (docs/security.md).
            self._session.ingest(spool, size if size > 32 else 0, commit)
            self._took_index(index_sum)
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
        ignored = (self._session.ignored, IGNORED_INDEX) if self._session.ignored else None
        return restore_script(
            self._git, ref, SCRATCH, self._scratch_kept, self._store(), BASE_IGNORED, ignored, INDEX_SUM
        )

    def fork(self, ref: StateRef) -> "DockerSandbox":
        """A sandbox at state ``ref``: a container this session closed, restored to ``ref`` (it
        costs what differs between the two states), else a new container."""
        self._check_open()
        while (parked := self._session.unpark()) is not None:
            if parked._reopen(ref):
                return parked
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

    def _reopen(self, ref: StateRef) -> bool:
        """Open this parked sandbox again at ``ref``; False (and it is gone) where that failed.
        Every process of its commands was killed when it closed; the restore checks its layer
        (a container whose programs a command changed is replaced) and removes what else its
        commands left, as for a worker's move to another branch."""
        self._session.reacquire()
        self._closed = self._parked = False
        _live.add(self)
        try:
            self.restore(ref)
            return True
        except SandboxError:
            self._closed = True
            _live.discard(self)
            self.teardown()
            self._session.release()
            self._session = None
            return False

    def diff(self) -> str:
        """The work tree against the base, as the keeper computes it from the saved state."""
        return self._session.diff(self.snapshot())

    @property
    def base(self) -> StateRef:
        return self._session.base or ""

    def close(self) -> None:
        """Kill what its commands left; then keep the container for the session's next fork, or
        remove it."""
        if self._parked or (self._closed and self.container is None):
            return
        self._closed = True
        _live.discard(self)
        session, self._session = self._session, None
        if self._opened and self.container is not None and session is not None and not self._dead:
            self._kill_all()
            if not self._dead:
                self._session = session  # kept while parked: its next fork opens it again
                self._parked = session.park(self)
                if self._parked:
                    session.release()
                    return
                self._session = None
        self.teardown()
        if session is not None:
            session.release()

    def teardown(self) -> None:
        """Remove the container (a parked one: when the session's last sandbox closes)."""
        self._end_shell()
        if self.container is not None:
            remove_container(self.container)
            self.container = None

    def __enter__(self) -> "DockerSandbox":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        name = self.container.name if self.container is not None else "-"
        return f"<DockerSandbox {name} {self.image}>"
