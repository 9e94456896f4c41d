"""Attacks on a Docker sandbox's own snapshot store and on the host's disk (issue 29, items 4
and 5), played as an agent plays them: a shell command run in its container.

Each test first checks that the command really runs in a container (its file system is
not the host's), so nothing destructive ever runs on this machine."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from engine.actions import Action
from engine.policy.base import Proposal
from engine.prm.heuristic import HeuristicScorer
from engine.sandbox import SandboxError
from engine.search.budget import Budget
from engine.session import SearchConfig, Session
from engine.tree import ROOT
from tests.conftest import docker_or_skip

# Empties every file of the container's own store (and its index), the review's attack.
WRECK = "find /var/lib/trajscope -type f | while read -r f; do : > \"$f\"; done; echo wrecked"


@pytest.fixture
def source(tmp_path: Path) -> Path:
    docker_or_skip()
    repo = tmp_path / "src"
    (repo / "pkg").mkdir(parents=True)
    (repo / "pkg" / "mod.py").write_text("def f():\n    return 1\n")
    return repo


def assert_contained(box) -> None:
    """The command runs in a container: its host name and file system are not this machine's."""
    inside = box.run("cat /etc/hostname; test -f /.dockerenv && echo in-docker").output.split()
    assert inside[-1] == "in-docker" and inside[0] != socket.gethostname()


def test_an_agent_that_wrecks_its_own_store_loses_only_its_branch(source):
    from engine.sandbox.docker import DockerSandbox

    with DockerSandbox(source=source) as box:
        assert_contained(box)
        box.write("pkg/mod.py", "def f():\n    return 2\n")
        two = box.snapshot()
        two_patch = box._session.diff(two)
        box.write("pkg/mod.py", "def f():\n    return 3\n")
        three = box.snapshot()
        assert box.run(WRECK).output.strip() == "wrecked"
        started = time.monotonic()
        with pytest.raises(SandboxError):  # its own branch fails, visibly and at once
            box.snapshot()
        assert time.monotonic() - started < 30
        # the same container goes on from another saved state, and forks, as if nothing happened
        box.restore(two)
        assert box.read("pkg/mod.py").endswith("return 2\n")
        assert box.diff() == two_patch and "+    return 2" in two_patch
        fork = box.fork(three)
        try:
            assert fork.read("pkg/mod.py").endswith("return 3\n")
            fork.write("pkg/new.py", "x = 1\n")
            assert "pkg/new.py" in fork.diff()
        finally:
            fork.close()
        box.write("pkg/mod.py", "def f():\n    return 4\n")
        assert "+    return 4" in box.diff()
        assert box._session.diff(two) == two_patch  # the saved states are intact
        with pytest.raises(SandboxError, match="unknown state"):  # a state no one saved is still refused
            box.restore("0" * 40)


class WreckThenWork:
    """The first rollout's first action wrecks the container's store; every later step works."""

    name = "scripted"

    def __init__(self):
        self.first = True

    def propose(self, context, n=1, temperature=None):
        if not context.steps and self.first:
            self.first = False
            action = Action("bash", {"command": WRECK}, WRECK)
        elif not context.steps:
            action = Action("create", {"path": "note.txt", "content": "after the damage\n"}, "create note.txt")
        else:
            action = Action("bash", {"command": "cat note.txt"}, "cat note.txt")
        return [Proposal(action, thought="scripted") for _ in range(n)]


def test_a_search_goes_on_after_an_agent_wrecks_its_store(source, tmp_path):
    """With one worker, the wrecked container must not fail every later node of the search."""
    from tests.support import SEMVER

    session = Session(SEMVER, WreckThenWork(), tmp_path / "run.jsonl", scorers=[HeuristicScorer()],
                      sandbox="docker", budget=Budget(nodes=6), restarts=0,
                      config=SearchConfig(strategy="sample", samples=2, max_depth=2), seed=1)
    session.start()
    assert session.wait(180)
    session.close()
    tree = session.tree
    first, second = (tree.nodes[n] for n in tree.children(ROOT))
    assert first.status == "failed" and "sandbox" in first.status_reason
    assert second.status != "failed", second.status_reason
    assert "note.txt" in (second.patch or "")
    (after,) = (tree.nodes[n] for n in tree.children(second.id))
    assert after.status != "failed", after.status_reason
    assert after.observation.strip() == "after the damage"


def written(box) -> int:
    """What the daemon counts in the container's writable layer, in bytes."""
    rows = box._client.api.containers(all=True, filters={"id": box.container.id}, size=True)
    return int(rows[0].get("SizeRw") or 0) if rows else 0


def test_a_docker_command_cannot_fill_the_host_disk(source):
    """One file past the limit is refused by the kernel at once; many files are stopped by the
    watch, and the container goes with what it wrote; the branch goes on from its saved state."""
    from engine.sandbox.docker import DockerSandbox

    limit = 64
    with DockerSandbox(source=source, disk_mb=limit) as box:
        assert_contained(box)
        box.write("pkg/mod.py", "def f():\n    return 5\n")
        state = box.snapshot()
        started = time.monotonic()
        one = box.run("fallocate -l 2G /tmp/big; echo rc=$?; stat -c %s /tmp/big", timeout=30)
        assert time.monotonic() - started < 10
        assert "rc=153" in one.output and one.output.split()[-1] == "0"  # EFBIG: nothing allocated
        peak, stop = [0], [False]

        def sample():
            while not stop[0]:
                peak[0] = max(peak[0], written(box))
                time.sleep(0.01)

        import threading

        watcher = threading.Thread(target=sample)
        watcher.start()
        try:
            with pytest.raises(SandboxError, match="disk limit"):
                box.run("for i in $(seq 256); do head -c 8M /dev/zero > /repo/junk$i || break; done", timeout=120)
        finally:
            stop[0] = True
            watcher.join()
        # 2 GiB tried; the container never held much more than its limit, and is gone with it
        assert peak[0] < (limit + 256) << 20, peak[0] >> 20
        assert not box._client.containers.list(all=True, filters={"id": box.container.id})
        box.restore(state)  # a new container, from the session's store
        started = time.monotonic()
        assert box.snapshot() == state
        assert time.monotonic() - started < 5
        assert box.read("pkg/mod.py").endswith("return 5\n")
        assert box.run("ls /repo").output.split() == ["pkg"]


def test_a_snapshot_past_the_pack_limit_is_refused_at_once(source):
    """2 GiB of changed files (sparse: they cost the disk nothing) would make git read and
    compress all of it before the pack limit stops it; the snapshot refuses them first."""
    from engine.sandbox.docker import DockerSandbox

    with DockerSandbox(source=source) as box:
        assert_contained(box)
        state = box.snapshot()
        assert box.run("truncate -s 1000M a b c && echo ok").output.strip() == "ok"
        started = time.monotonic()
        with pytest.raises(SandboxError, match="more than one state may save"):
            box.snapshot()
        assert time.monotonic() - started < 5
        box.run("rm a b c")
        assert box.snapshot() == state
