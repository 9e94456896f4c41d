"""The keeper of a Docker session's snapshot store: a container that runs no command of an
agent's and alone writes the store (a bare git repository on a volume), which the agents'
containers see read-only; it takes each snapshot's new objects as a pack and checks them
before the state counts (docs/architecture.md section 3)."""

from __future__ import annotations

import io
import os
import re
import shlex
import shutil
import tempfile
import threading
import uuid
from pathlib import Path

from trajscope.engine.sandbox.base import SandboxError, SharedState
from trajscope.engine.sandbox.git_store import GitStore, check_ref
from trajscope.engine.sandbox.container import Sink, check_exec, put_dir, put_file, short_error, stream_exec
from trajscope.engine.sandbox.daemon import LABEL, OWNER, SESSION, owner_id, remove_container
from trajscope.engine.sandbox.docker_steps import FIXED_DATES as _FIXED_DATES
from trajscope.engine.sandbox.engine_shell import EngineShell

STORE_MOUNT = "/ts"
KEEPER_STORE = f"{STORE_MOUNT}/store.git"  # the session's store, written by the keeper only
# The paths git ignored in the base (build outputs made in place), as anchored patterns for
# ``git ls-files --exclude-from``: a restore keeps these and removes every other untracked path.
# On the keeper's volume, so no agent can add a path to it.
BASE_IGNORED = f"{STORE_MOUNT}/base-ignored"
HELPER_TIMEOUT = 600.0  # seconds an engine step in a container may take (git on a large tree)
HELPER_LIMIT = 256 << 20  # bytes an engine step may print (a diff, a file)
SMALL_PACK = 8 << 20  # a pack up to this size goes to the keeper's shell in memory; a larger one streams


def _git_env(store: str) -> str:
    return (
        f"export GIT_DIR={shlex.quote(store)} GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null "
        f"GIT_ATTR_NOSYSTEM=1 {_FIXED_DATES} LC_ALL=C\nset -e\n"
    )


def ignored_patterns(listed: bytes) -> bytes:
    """Exclude patterns that match exactly the paths of ``listed`` (NUL-separated, a folder
    ending in ``/``), each anchored at the repository's top and with every glob character
    escaped. A name holding a newline cannot be written as a pattern: it is left out (so a
    restore removes it)."""
    lines = []
    for name in listed.split(b"\0"):
        if not name or b"\n" in name or b"\r" in name:
            continue
        lines.append(b"/" + re.sub(rb"([\\*?\[\] !#])", rb"\\\1", name))
    return b"".join(line + b"\n" for line in lines)


def fail_start(thing, image: str, exc: BaseException):
    """Close what was half started (a session or a sandbox) and say why in one line."""
    import docker.errors

    thing.close()
    if isinstance(exc, docker.errors.DockerException):
        raise SandboxError(f"Docker could not start a container from {image}: {short_error(exc)}") from None
    raise exc


def _tree_bytes(top: Path) -> int:
    total = 0
    for folder, _, files in os.walk(top):
        for name in files:
            try:
                total += os.lstat(os.path.join(folder, name)).st_size
            except OSError:
                pass
    return total


class KeeperSession(SharedState):
    """The keeper container and the volume of the snapshot store, shared by a root sandbox
    and its forks. The keeper runs no command of an agent's, and it alone writes the store."""

    def __init__(
        self,
        c,
        image: str,
        output_dir: str | os.PathLike | None,
        repo: str,
        source: Path | None,
        limits: dict,
        store_limit: int,
    ):
        super().__init__()
        self.store_limit = store_limit
        self.stored = 0  # bytes of the packs the keeper was sent
        self.id = uuid.uuid4().hex[:12]
        self.image, self.repo, self.client = image, repo, c
        self.labels = {LABEL: "1", OWNER: owner_id(), SESSION: self.id}
        self.volume = c.volumes.create(name=f"trajscope-{self.id}", labels=self.labels)
        self.keeper = None
        self.ignored = ""  # the tree of the base's ignored files (GitStore.save_ignored)
        self.own_outputs = output_dir is None
        self.outputs = Path(output_dir) if output_dir else Path(tempfile.mkdtemp(prefix=f"trajscope-docker-{self.id}-"))
        self.outputs.mkdir(parents=True, exist_ok=True)
        self.store_lock = threading.Lock()
        self._shell: EngineShell | None = None
        self._shell_lock = threading.Lock()
        # A container whose repository is copied in (not in the image) holds that copy in its
        # writable layer: its disk limit counts from there.
        self.source_bytes = _tree_bytes(source) if source is not None else 0
        try:
            self.keeper = c.containers.run(
                image,
                ["sleep", "infinity"],
                detach=True,
                init=True,
                network_mode="none",
                labels=self.labels,
                name=f"trajscope-{self.id}-keeper",
                volumes={self.volume.name: {"bind": STORE_MOUNT, "mode": "rw"}},
                **limits,
            )
            if source is not None:
                self.sh(f"mkdir -p {shlex.quote(repo)}")
                put_dir(self.keeper, source, repo)
            # The base state is saved from the keeper's own copy of the repository (the
            # image's, or the source copied in), which no agent has touched.
            store = GitStore(KEEPER_STORE, repo, "/tmp/trajscope-keeper-index")
            self.base = self.sh(f"export {_FIXED_DATES}\n{store.init()}", timeout=1800).decode().strip()
            check_ref(self.base)
            self._record_base_ignored(store)
            # the base's ignored files, saved apart: every container's restore puts them back
            # as they were, so a new container (a fork) holds them as the first one does
            listed = self.sh(store.save_ignored("/tmp/trajscope-keeper-ignored"), timeout=1800)
            self.ignored = listed.partition(b"\n")[0].decode("ascii", errors="replace").strip()
            check_ref(self.ignored)
        except BaseException as exc:
            fail_start(self, image, exc)

    def _record_base_ignored(self, store: GitStore) -> None:
        """Write ``BASE_IGNORED`` from the keeper's copy of the repository, which no agent touched."""
        listed = self.sh(store._prelude() + "g ls-files -z -o -i --exclude-standard --directory\n", timeout=1800)
        patterns = ignored_patterns(listed)
        put_file(self.keeper, STORE_MOUNT, BASE_IGNORED.rsplit("/", 1)[1], io.BytesIO(patterns), len(patterns))
        self.sh(f"chmod 644 {BASE_IGNORED}")

    def sh(
        self, script: str, timeout: float = HELPER_TIMEOUT, limit: int = HELPER_LIMIT, stdin=None, data: bytes = b""
    ) -> bytes:
        """Run an engine script in the keeper; its stdout, or SandboxError. ``stdin``: a file it
        reads as its standard input; ``data``: bytes it reads from the file ``$TS_IN``. The
        keeper's long-lived shell takes the script where no other step holds it (the keeper runs
        nothing of an agent's); else, or with ``stdin``, an exec of its own does."""
        if self.keeper is None:
            raise SandboxError("the sandbox is closed")
        sink = Sink(limit=limit)
        if stdin is None and self._shell_lock.acquire(blocking=False):
            try:
                if self._shell is None or not self._shell.alive:
                    self._shell = EngineShell(self.client.api, self.keeper)
                code, timed_out = self._shell.run(script, sink, timeout, data=data)
            finally:
                self._shell_lock.release()
            if code is not None or timed_out or sink.size:
                return check_exec(sink, code, timed_out, timeout, "the snapshot store")
            self._shell = None  # it broke before the step printed anything: an exec of its own
        if data:
            stdin, script = io.BytesIO(data), f"TS_IN=/dev/stdin\n{script}"
        argv = ["bash", "-c", script]
        code, timed_out = stream_exec(self.client.api, self.keeper, argv, sink, timeout, stdin=stdin)
        return check_exec(sink, code, timed_out, timeout, "the snapshot store")

    def ingest(self, pack, size: int, commit: str) -> None:
        """Add the objects in ``pack`` (a file of ``size`` bytes) to the store; ``commit``
        must then be complete there (the commit and every object it reaches). The packs of a
        session may add at most ``store_limit`` bytes to its store."""
        # the pack comes on the keeper's standard input, in the exchange that checks it
        small = 0 < size <= SMALL_PACK
        pack_in = '< "$TS_IN"' if small else ""
        index = f"git -c transfer.fsckObjects=true index-pack --stdin --strict {pack_in} >/dev/null\n" if size else ""
        with self.store_lock:
            if self.stored + size > self.store_limit:
                raise SandboxError(
                    f"this state would pass the limit of the session's snapshot store "
                    f"({self.store_limit >> 20:,} MiB, TRAJSCOPE_STORE_MB); it is not saved"
                )
            # counted whether or not the keeper takes it: a refused pack may leave its
            # temporary file in the store, so this bounds the volume either way
            self.stored += size
            self.sh(
                _git_env(KEEPER_STORE)
                + index
                + f"git cat-file -e {commit}^{{tree}} 2>/dev/null || {{ echo 'the state is not complete' >&2; exit 1; }}\n"
                f"if git rev-list --objects {commit} --not refs/trajscope/base | cut -d' ' -f1 | "
                "git cat-file --batch-check | grep -q ' missing$'; then echo 'the state is not complete' >&2; exit 1; fi\n"
                f"git update-ref refs/trajscope/states/{commit} {commit}\n",
                # at the pack's first byte: all that is left of it
                stdin=pack if size and not small else None,
                data=pack.read(size) if small else b"",
            )

    def room(self) -> int:
        """Bytes the session's store may still take."""
        with self.store_lock:
            return max(0, self.store_limit - self.stored)

    def holds(self, ref: str) -> bool:
        """Whether ``ref`` is a state of this session: the base or one the keeper took."""
        check_ref(ref)
        out = self.sh(
            _git_env(KEEPER_STORE) + f'if [ {ref} = "$(git rev-parse refs/trajscope/base)" ] || '
            f"git rev-parse -q --verify refs/trajscope/states/{ref} >/dev/null; then echo yes; fi\n"
        )
        return out.strip() == b"yes"

    def diff(self, commit: str) -> str:
        out = self.sh(
            _git_env(KEEPER_STORE) + "git -c core.attributesFile=/dev/null diff --no-color --no-ext-diff --no-textconv "
            f"--no-renames --binary refs/trajscope/base {commit}\n"
        )
        return out.decode("utf-8", errors="replace")

    def close(self) -> None:
        if self._shell is not None:
            self._shell.close()
        if self.keeper is not None:
            remove_container(self.keeper)
            self.keeper = None
        try:
            self.volume.remove(force=True)
        except Exception:  # noqa: BLE001 - reaped later
            pass
        if self.own_outputs:
            shutil.rmtree(self.outputs, ignore_errors=True)

    def release(self) -> bool:
        last = super().release()
        if last:
            self.close()
        return last
