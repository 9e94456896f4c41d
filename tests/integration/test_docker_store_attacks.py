"""Attacks on a Docker sandbox's own snapshot store and on the host's disk (issue 29, items 4
and 5), played as an agent plays them: a shell command run in its container.

Each test first checks that the command really runs in a container (its file system is
not the host's), so nothing destructive ever runs on this machine."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from trajscope.engine.actions import Action
from trajscope.engine.policy.base import Proposal
from trajscope.engine.prm.heuristic import HeuristicScorer
from trajscope.engine.sandbox import SandboxError
from trajscope.engine.search.budget import Budget
from trajscope.engine.search.config import SearchConfig
from trajscope.engine.session import Session
from trajscope.engine.tree import ROOT
from tests.conftest import docker_or_skip

pytestmark = pytest.mark.docker

# Empties every file of the container's own store (and its index), the review's attack.
WRECK = 'find /var/lib/trajscope -type f | while read -r f; do : > "$f"; done; echo wrecked'


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


def test_an_agent_that_wrecks_its_own_store_loses_nothing(source):
    """Every engine step makes the container's store anew and drops an index it did not leave,
    so emptying them costs the agent's branch nothing, and no other branch anything."""
    from trajscope.engine.sandbox.docker import DockerSandbox

    with DockerSandbox(source=source) as box:
        assert_contained(box)
        box.write("pkg/mod.py", "def f():\n    return 2\n")
        two = box.snapshot()
        two_patch = box._session.diff(two)
        box.write("pkg/mod.py", "def f():\n    return 3\n")
        three = box.snapshot()
        assert box.run(WRECK).output.strip() == "wrecked"
        assert box.snapshot() == three  # its files, read again
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
    """With one worker, the wrecked store must fail no node of the search (it failed every
    later node of that worker, before the keeper; then the wrecking node's own)."""
    from tests.support import SEMVER

    session = Session(
        SEMVER,
        WreckThenWork(),
        tmp_path / "run.jsonl",
        scorers=[HeuristicScorer()],
        sandbox="docker",
        budget=Budget(nodes=6),
        restarts=0,
        config=SearchConfig(strategy="sample", samples=2, max_depth=2),
        seed=1,
    )
    session.start()
    assert session.wait(180)
    session.close()
    tree = session.tree
    first, second = (tree.nodes[n] for n in tree.children(ROOT))
    assert first.status != "failed", first.status_reason
    assert first.action["args"]["command"] == WRECK and first.observation.strip() == "wrecked"
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
    from trajscope.engine.sandbox.docker import DockerSandbox

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
    from trajscope.engine.sandbox.docker import DockerSandbox

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


# -- a container whose own programs the agent replaced (after issue 29's second review) -------

# Each installs a program that the engine would run in the container after the command, and
# that copies the agent's files into whatever the engine restores. The real program still runs.
TROJAN_GIT = (
    "mv /usr/bin/git /usr/bin/git.real && printf '%s\\n' '#!/bin/sh' '/usr/bin/git.real \"$@\"; rc=$?' "
    "'echo \"# trojan\" >> /repo/pkg/mod.py; echo planted > /repo/planted; exit $rc' > /usr/bin/git "
    "&& chmod +x /usr/bin/git && echo installed"
)
TROJAN_BASH = (  # every engine step and the kill after each command start with `bash -c`
    "printf '%s\\n' '#!/usr/bin/bash.real' 'echo planted > /repo/planted 2>/dev/null' "
    "'exec /usr/bin/bash.real \"$@\"' > /usr/local/bin/bash && chmod +x /usr/local/bin/bash "
    "&& cp /usr/bin/bash /usr/bin/bash.real && echo installed"
)
# The container's own store is the engine's, but on the agent's disk: a smudge filter there
# would run at the next checkout of any state.
POISON_STORE = (
    "S=/var/lib/trajscope/store.git; printf '* filter=evil\\n' > $S/info/attributes && "
    'printf \'[filter "evil"]\\n\\tsmudge = "cat; echo planted > /repo/planted"\\n\' >> $S/config '
    "&& echo installed"
)


def files_of(box) -> dict[str, str]:
    """The repository's files and their hashes, as the container holds them (not through git)."""
    out = box.run("cd /repo && find . -type f -print0 | sort -z | xargs -0 -r sha256sum").output
    return {path: digest for digest, path in (line.split(None, 1) for line in out.splitlines())}


def hashes(tree: dict[str, str]) -> dict[str, str]:
    import hashlib

    return {f"./{path}": hashlib.sha256(text.encode()).hexdigest() for path, text in tree.items()}


@pytest.mark.parametrize("attack", [TROJAN_GIT, TROJAN_BASH, POISON_STORE], ids=["git", "bash", "store"])
def test_a_replaced_program_cannot_plant_into_another_branch(source, attack):
    """After the agent replaced a program the engine runs in its container, restoring the base
    or another branch's state gives exactly the files saved there, and a snapshot of them is
    that same state: nothing of the agent's reaches them."""
    from trajscope.engine.sandbox.docker import DockerSandbox

    base_files = {"pkg/mod.py": "def f():\n    return 1\n"}
    two_files = {"pkg/mod.py": "def f():\n    return 2\n", "pkg/two.py": "y = 2\n"}
    with DockerSandbox(source=source) as box:
        assert_contained(box)
        base = box.snapshot()
        box.write("pkg/mod.py", two_files["pkg/mod.py"])
        box.write("pkg/two.py", two_files["pkg/two.py"])
        two = box.snapshot()
        two_patch = box._session.diff(two)
        box.restore(base)
        assert box.run(attack).output.strip().endswith("installed")
        for ref, expected in ((base, base_files), (two, two_files), (base, base_files)):
            box.restore(ref)
            assert files_of(box) == hashes(expected)
            assert box.snapshot() == ref
        assert box._session.diff(two) == two_patch
        fork = box.fork(two)
        try:
            assert files_of(fork) == hashes(two_files)
        finally:
            fork.close()


def test_the_snapshots_of_a_session_share_one_bounded_store(source):
    """Each snapshot may send up to the pack limit; a search of many nodes would grow the
    keeper's volume without end. The session's store takes ``store_mb`` in all, forks included."""
    from trajscope.engine.sandbox.docker import DockerSandbox

    with DockerSandbox(source=source, store_mb=1) as box:
        assert_contained(box)
        assert box.run("head -c 600000 /dev/urandom > a.bin && echo ok").output.strip() == "ok"
        first = box.snapshot()  # 600 KB of the 1 MiB
        fork = box.fork(first)
        try:
            assert fork.run("head -c 600000 /dev/urandom > b.bin && echo ok").output.strip() == "ok"
            started = time.monotonic()
            with pytest.raises(SandboxError, match="snapshot store has left of its 1 MiB"):
                fork.snapshot()
            assert time.monotonic() - started < 10
            fork.run("head -c 100000 b.bin > c.bin && rm b.bin")
            assert "c.bin" in fork.diff()  # what fits is still saved
        finally:
            fork.close()
        box.restore(first)
        assert box.snapshot() == first
        assert box._session.stored < 1 << 20


HIDE = (
    "printf 'conftest.py\\n' >> .gitignore; "
    'printf \'import pathlib\\npathlib.Path("README.md").write_text("trojan")\\n\' > conftest.py'
)


@pytest.fixture
def built(source: Path) -> Path:
    """A repository with a build output that its .gitignore hides before the sandbox opens."""
    (source / ".gitignore").write_text("build/\n*.so\n")
    (source / "README.md").write_text("readme\n")
    (source / "build").mkdir()
    (source / "build" / "out.txt").write_text("built\n")
    (source / "pkg" / "_ext.so").write_text("compiled\n")
    return source


def test_a_file_hidden_by_gitignore_does_not_outlive_a_restore(built):
    """The review's reproduction: the agent ignores its conftest.py; after a restore of the
    base it is gone (the diff is empty and the state is the base), while the base's own
    ignored build outputs stay."""
    from trajscope.engine.sandbox.docker import DockerSandbox

    with DockerSandbox(source=built) as box:
        assert_contained(box)
        base = box.snapshot()
        box.run(HIDE + "; mkdir d && echo '*' > d/.gitignore && echo hidden > d/x.py", timeout=30)
        box.run("echo changed > build/new.txt", timeout=30)
        box.snapshot()
        box.restore(base)
        assert box.diff() == ""
        assert box.snapshot() == base
        left = box.run("ls -a; ls d 2>&1; cat build/out.txt pkg/_ext.so", timeout=30).output
        assert "conftest.py" not in left and "x.py" not in left
        assert "built" in left and "compiled" in left
        # a fork of the state the agent saved holds none of it either
        with box.fork(base) as other:
            assert "conftest.py" not in other.run("ls", timeout=30).output and other.diff() == ""


def test_a_trojan_in_home_or_tmp_does_not_run_in_a_sibling_branch(built):
    """A usercustomize.py in the user site (HOME) would run in the next branch's first python;
    a restore replaces the container where HOME changed, and empties /tmp and /var/tmp."""
    from trajscope.engine.sandbox.docker import DockerSandbox

    with DockerSandbox(source=built) as box:
        assert_contained(box)
        base = box.snapshot()
        box.run(
            "d=$(python -m site --user-site); mkdir -p $d; "
            'echo \'open("/repo/README.md","a").write("# trojan\\n")\' > $d/usercustomize.py; '
            "printf '[alias]\\n\\tst = !touch /repo/owned\\n' > ~/.gitconfig; "
            'echo \'open("/repo/README.md","a").write("# tmp\\n")\' > /tmp/evil.py; '
            "touch /var/tmp/mark",
            timeout=30,
        )
        box.restore(base)
        assert "a new one took its place" in box.notice
        out = box.run(
            "python -c 'import sys; sys.path.insert(0, \"/tmp\"); import evil' 2>&1; "
            "git st 2>/dev/null; ls /var/tmp; cat README.md",
            timeout=30,
        ).output
        assert "trojan" not in out and "# tmp" not in out and "mark" not in out
        assert box.diff() == "" and box.run("ls owned", timeout=30).exit_code != 0


def test_no_command_of_an_agent_s_runs_beside_the_engine_s_shell(source, monkeypatch):
    """The engine's steps go through a long-lived shell in the container (engine_shell). An
    agent that could reach it would steer every later step: find it among the processes and
    write a script to its standard input. It is never there while a command runs; a step past
    its deadline ends it, and the next step starts another."""
    from trajscope.engine.sandbox.docker import DockerSandbox

    box = DockerSandbox(source=source)
    try:
        assert_contained(box)
        box.write("pkg/mod.py", "def f():\n    return 2\n")
        ref = box.snapshot()  # the engine's shell is up now
        assert box.read("pkg/mod.py").endswith("return 2\n")
        seen = box.run(
            "for p in /proc/[0-9]*; do tr '\\0' ' ' < $p/cmdline 2>/dev/null; echo; done;"
            " for p in /proc/[0-9]*; do printf '9 %032d 0\\ntouch /x\\n' 0 > $p/fd/0 2>/dev/null; done; echo tried"
        ).output
        assert "tried" in seen and "TS_IN" not in seen and "while IFS" not in seen
        box.restore(ref)
        assert box.run("test -e /x && echo planted || echo clean").output.strip() == "clean"
        with pytest.raises(SandboxError, match="did not finish"):
            box._sh("sleep 30", timeout=0.5)
        assert box.read("pkg/mod.py").endswith("return 2\n") and box.snapshot() == ref
        # a shell that cannot run the loop (an image's bash without it): each step takes an exec
        from trajscope.engine.sandbox import engine_shell

        monkeypatch.setattr(engine_shell, "_LOOP", "exit 0")
        box._end_shell()
        box._session._shell.close()  # the keeper's too
        box.write("pkg/mod.py", "def f():\n    return 5\n")
        assert box.read("pkg/mod.py").endswith("return 5\n") and box.snapshot() != ref
        box.restore(ref)
        assert box.read("pkg/mod.py").endswith("return 2\n") and box.snapshot() == ref
    finally:
        box.close()
