"""Attacks on the sandbox boundary, played through the tools an agent has (bash and the
file tools), in every sandbox: local with bubblewrap, local without it (``--sandbox none``,
asked for by name), and Docker.

Each test is one finding of the hardening campaign (issue 14); docs/security.md says
what each sandbox promises. The host side of an attack is a file in pytest's tmp_path,
which no sandbox binds."""

from __future__ import annotations

import base64
import os
import random
import threading
import time
from pathlib import Path

import pytest

from trajscope.engine.actions import Action
from trajscope.engine.tools import execute
from trajscope.engine.sandbox import SandboxError
from trajscope.engine.sandbox.output import KEEP_HEAD, KEEP_TAIL
from tests.conftest import docker_or_skip


@pytest.fixture(params=["local", "none", "docker"])
def kind(request) -> str:
    if request.param == "docker":
        docker_or_skip()
    return request.param


@pytest.fixture
def box(kind: str, source: Path, tmp_path: Path):
    if kind == "docker":
        from trajscope.engine.sandbox.docker import DockerSandbox

        sandbox = DockerSandbox(source=source)
    else:
        from trajscope.engine.sandbox.local import LocalSandbox

        try:
            # none as root: the commands' own user must reach the sandbox by its path, which
            # pytest's 0700 folders would hide; the system's temporary folder does not.
            sandbox = LocalSandbox(source, base_dir=str(tmp_path) if kind == "local" else None, isolate=kind == "local")
        except SandboxError as exc:  # no working bubblewrap: the local sandbox refuses to start
            if os.environ.get("CI") == "true":
                pytest.fail(f"CI=true but the local sandbox cannot be isolated here: {exc}")
            pytest.skip(str(exc))
    yield sandbox
    sandbox.close()


def bash(box, command: str, timeout: float = 30):
    return execute(Action("bash", {"command": command}), box, timeout=timeout)


def within(seconds: float, fn, *args):
    """fn(*args) in a thread; fails the test (instead of hanging it) past ``seconds``."""
    result: dict = {}

    def target():
        try:
            result["value"] = fn(*args)
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            result["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    started = time.monotonic()
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"{getattr(fn, '__name__', fn)} hung for more than {seconds} s"
    if "error" in result:
        raise result["error"]
    return result["value"], time.monotonic() - started


# 1. Engine-side git takes no program from the agent's config, attributes or hooks.
def test_git_config_and_attributes_do_not_run_on_the_host(box, tmp_path):
    marker = tmp_path / "pwned"
    evil = f"sh -c 'echo pwned > {marker}; cat'"
    config = (
        f'[filter "x"]\n\tclean = {evil}\n\tsmudge = {evil}\n\trequired = false\n'
        f'[diff "x"]\n\tcommand = {evil}\n\ttextconv = {evil}\n'
        f"[core]\n\tfsmonitor = {evil}\n\thooksPath = /tmp/hooks\n\tsshCommand = {evil}\n"
        f"[include]\n\tpath = ~/more.gitconfig\n"
    )
    hook = f"#!/bin/sh\n{evil}\n"

    def put(path: str, text: str) -> str:  # written without the shell reading the text
        return f"echo {base64.b64encode(text.encode()).decode()} | base64 -d > {path}; "

    script = (
        "mkdir -p ~/.config/git .git/hooks /tmp/hooks; "
        + put("~/.gitconfig", config)
        + "cp ~/.gitconfig ~/.config/git/config; "
        + put(".gitattributes", "* filter=x diff=x text eol=crlf ident\n")
        # a .git of the agent's, written by hand (the agent's own git may run what it likes)
        + "cp ~/.gitconfig .git/config; echo 'ref: refs/heads/main' > .git/HEAD; "
        + "".join(
            put(f"{d}/{h}", hook) + f"chmod +x {d}/{h}; "
            for d in (".git/hooks", "/tmp/hooks")
            for h in ("pre-commit", "post-checkout", "post-index-change")
        )
        + "echo 'changed' >> pkg/mod.py"
    )
    assert bash(box, script).exit_code == 0
    state = box.snapshot()
    patch = box.diff()
    fork = box.fork(state)
    try:
        assert fork.read("pkg/mod.py").endswith("changed\n")
    finally:
        fork.close()
    box.restore(box.base)
    assert "changed" in patch and "+changed" in patch
    assert not marker.exists(), "the agent's git filter ran on the host"


def test_a_nested_repository_s_own_filter_never_runs_on_the_host(box, tmp_path):
    """A nested repository the index tracks: git's add and diff-files run `git status` inside
    it, which reads that repository's own config and attributes; the engine's steps must not
    (a clean filter defined there ran as root on the host at the next restore or diff)."""
    marker = tmp_path / "pwned"
    git = "GIT_CONFIG_NOSYSTEM=1 git -c user.name=a -c user.email=a@b"
    evil = f"sh -c 'echo pwned > {marker}; cat'"
    script = (
        f"mkdir evil && cd evil && {git} init -q && echo f > f.txt && echo '* filter=x' > .gitattributes && "
        f'{git} add -A && {git} commit -qm e && {git} config filter.x.clean "{evil}"'
    )
    assert bash(box, script).exit_code == 0
    state = box.snapshot()  # the nested repository goes in as its HEAD
    # the same size a second later: only its content could tell git it changed
    assert bash(box, "sleep 1.1; echo g > evil/f.txt").exit_code == 0
    box.diff()
    box.restore(state)
    assert bash(box, "sleep 1.1; echo h > evil/f.txt; echo new > n.txt").exit_code == 0
    box.snapshot()
    box.restore(box.base)
    assert not marker.exists(), "a nested repository's filter ran on the host"


def test_a_nested_repository_is_not_saved_nor_its_head_read_through_a_link(box, tmp_path):
    """To save a nested repository as a gitlink git reads its HEAD wherever its .git leads: a
    host file of 40 hex digits reached the patch, and a ref linked to /dev/zero took the
    host's memory. None is saved; the rest of the change is."""
    secret = tmp_path / "secret"
    secret.write_text("ab" * 20 + "\n")
    script = (
        "for d in n z; do mkdir -p $d/.git/objects $d/.git/refs/heads && "
        "echo 'ref: refs/heads/main' > $d/.git/HEAD && echo x > $d/f.txt; done && "
        f"ln -s {secret} n/.git/refs/heads/main && ln -s /dev/zero z/.git/refs/heads/main && "
        "echo changed >> pkg/mod.py"
    )
    assert bash(box, script).exit_code == 0
    state = box.snapshot()
    patch = box.diff()
    assert "+changed" in patch and "ab" * 20 not in patch and "Subproject" not in patch
    fork = box.fork(state)
    try:
        assert fork.read("pkg/mod.py").endswith("changed\n")
        assert fork.run("ls -A n z 2>/dev/null | grep -c f.txt").output.strip() == "0"
    finally:
        fork.close()


# 2. No file the engine writes or reads on the host is a path the agent controls.
def test_output_is_not_saved_through_an_agent_link(box, tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    # Links named like every output file the engine ever wrote, in every folder the agent can write.
    names = " ".join(f"{p}{n}.log" for p in ("", "sb0-", "sb1-", "0-", "0-0-") for n in range(8))
    bash(
        box,
        f"for d in . ~ /tmp ${{TMPDIR:-/tmp}} /tmp/ts-out; do mkdir -p $d 2>/dev/null; "
        f"for n in {names}; do ln -sf {victim} $d/$n 2>/dev/null; done; done; true",
    )
    result = bash(box, "head -c 300000 /dev/zero | tr '\\0' 'x'")
    assert result.truncated
    assert victim.read_text() == "precious\n"
    saved = box.run("head -c 300000 /dev/zero | tr '\\0' 'y'")
    assert saved.output_path and not Path(saved.output_path).is_symlink()
    assert Path(saved.output_path).read_bytes().startswith(b"yyy")
    assert os.stat(saved.output_path).st_mode & 0o077 == 0  # only the engine's user reads it
    assert not str(Path(saved.output_path).resolve()).startswith(str(Path(box.repo).resolve()))


# 3. A FIFO, or a process that keeps the output open, cannot hold the engine past the deadline.
@pytest.mark.slow
def test_fifo_and_held_output_do_not_defeat_the_timeout(box):
    result, took = within(30, box.run, "mkfifo /tmp/p 2>/dev/null || mkfifo p; cat /tmp/p 2>/dev/null || cat p", 2)
    assert result.timed_out and took < 12
    result, took = within(30, box.run, "sleep 300 & echo started", 60)
    assert result.output.strip() == "started" and not result.timed_out and took < 10
    result, took = within(30, box.run, "(exec 1>&- 2>&-; sleep 300) & sleep 300", 2)
    assert result.timed_out and took < 12
    bash(box, "mkfifo pkg/pipe.py")
    obs, took = within(30, execute, Action("view", {"path": "pkg/pipe.py"}), box)
    assert obs.exit_code == 1 and "regular file" in obs.text and took < 10
    obs, took = within(30, execute, Action("create", {"path": "pkg/pipe.py", "content": "x"}), box)
    assert obs.exit_code == 1 and "regular file" in obs.text
    obs, took = within(30, execute, Action("search", {"pattern": "zzz"}), box)
    assert took < 20  # grep skips the FIFO instead of waiting on it


# 4. Output without end is kept head and tail, in bounded memory and disk.
def test_endless_output_is_bounded(box):
    size = 64 << 20
    result, _ = within(120, box.run, f"head -c {size} /dev/zero | tr '\\0' 'z'; echo END", 100)
    assert result.truncated and result.output_size == size + 4
    assert result.output.rstrip().endswith("END")
    kept = os.path.getsize(result.output_path)
    assert kept <= KEEP_HEAD + KEEP_TAIL + 200
    big = 20 << 20
    bash(box, f"head -c {big} /dev/zero > pkg/big.bin")
    obs = execute(Action("view", {"path": "pkg/big.bin"}), box)
    assert obs.exit_code == 1 and "larger than" in obs.text


# 6. What the agent sees of the host.
def test_host_secrets_are_out_of_reach(box, kind, monkeypatch):
    monkeypatch.setenv("TRAJSCOPE_TEST_SECRET", "sk-test-secret-0123456789")
    out = bash(
        box,
        f"env; cat /proc/{os.getppid()}/environ /proc/{os.getpid()}/environ 2>&1 | tr '\\0' '\\n'; "
        "cat /proc/*/environ 2>/dev/null | tr '\\0' '\\n'",
    ).text
    assert "sk-test-secret" not in out
    if kind == "local":
        assert box.isolated
        assert "root:" not in bash(box, "cat /etc/shadow 2>&1").text
        assert str(Path.home()) == "/root" or "No such file" in bash(box, f"ls {Path.home()} 2>&1").text
    if kind == "none":
        assert not box.isolated and box.kind == "none" and "UNCONFINED" in box.notice


# 7. Nothing a command started survives it: setsid, a double fork, nohup, and a process that
# names itself so that a reader counting /proc/PID/stat's fields from the start sees a zombie
# ("a Z b": the sweep skipped it, and it rewrote restored files and the engine's programs).
def test_detached_processes_do_not_survive(box):
    # durations of this run's own: unconfined (none) the command sees every process of the
    # machine, the same attack of another test worker's (in Docker) included
    n = random.randrange(1000, 90000) * 10
    bash(
        box,
        f"setsid sleep {n + 1} > /dev/null 2>&1 < /dev/null & (sleep {n + 2} > /dev/null 2>&1 &); "
        f"nohup sleep {n + 3} > /dev/null 2>&1 & (setsid bash -c 'trap \"\" TERM HUP; sleep {n + 4}' &) ; "
        f'(setsid python3 -c \'import time; open("/proc/self/comm", "w").write("a Z b"); time.sleep({n + 5})\' '
        "> /dev/null 2>&1 < /dev/null &); sleep 0.3; echo ok",
    )
    time.sleep(0.5)
    left = bash(box, "for p in /proc/[0-9]*; do tr '\\0' ' ' < $p/cmdline 2>/dev/null; echo; done").text
    for i in (1, 2, 3, 4):
        assert f"sleep {n + i}" not in left, left
    assert f"time.sleep({n + 5})" not in left, left


# 8. The search tool stays in the repository.
def test_search_does_not_follow_links_out(box, tmp_path):
    # (none as root: the commands' own user cannot enter pytest's folders; /etc it can)
    outside = "/etc" if box.kind in ("docker", "none") else str(tmp_path)
    (tmp_path / "secret.txt").write_text("TOPSECRET\n")
    bash(
        box,
        f"echo 'TOPSECRET' > /tmp/secret.txt; ln -s {outside} pkg/out; ln -s /tmp/secret.txt pkg/s.txt; "
        "echo 'needle' > pkg/in.txt; ln -s in.txt pkg/alias.txt",
    )
    obs = execute(Action("search", {"pattern": "TOP[S]ECRET|ro[o]t:", "path": "pkg/out"}), box)
    assert obs.exit_code == 1 and "outside the repository" in obs.text
    obs = execute(Action("search", {"pattern": "TOP[S]ECRET|ro[o]t:", "path": "pkg/s.txt"}), box)
    assert "TOPSECRET" not in obs.text
    obs = execute(Action("search", {"pattern": "TOP[S]ECRET|ro[o]t:"}), box)
    assert "TOPSECRET" not in obs.text and "root:" not in obs.text
    obs = execute(Action("search", {"pattern": "needle", "path": "pkg"}), box)
    assert "pkg/in.txt:1:needle" in obs.text


# 5. (Docker) The shared snapshot store cannot be changed from inside an agent's container.
@pytest.mark.docker
def test_docker_store_is_read_only_to_agents(source):
    docker_or_skip()
    from trajscope.engine.sandbox.docker import DockerSandbox

    with DockerSandbox(source=source) as box:
        box.write("pkg/mod.py", "def f():\n    return 2\n")
        good = box.snapshot()
        attack = bash(
            box,
            "touch /ts/store.git/x; rm -rf /ts/store.git/objects /ts/store.git/refs; "
            "ls /ts/store.git/objects | head -3; rm -rf /var/lib/trajscope; echo done",
        )
        assert "Read-only file system" in attack.text
        fork = box.fork(good)
        try:
            assert fork.read("pkg/mod.py").endswith("return 2\n")
            fork.restore(fork.base)
            assert fork.read("pkg/mod.py").endswith("return 1\n")
        finally:
            fork.close()
        assert box.snapshot() == good  # its own store is made anew by every step: nothing is lost


@pytest.mark.docker
def test_docker_cleanup_does_not_depend_on_the_containers_tools(source):
    """The agent is root in its container: it may remove coreutils. The engine's kill of
    leftover processes uses only the shell's builtins."""
    docker_or_skip()
    from trajscope.engine.sandbox.docker import DockerSandbox

    with DockerSandbox(source=source) as box:
        sleeper = bash(
            box,
            "cp /bin/sleep /tmp/nap; rm -f /usr/bin/seq /usr/bin/sleep /usr/bin/kill /bin/kill; "
            "(setsid /tmp/nap 301 > /dev/null 2>&1 &); echo ok",
        )
        assert sleeper.text.strip() == "ok"
        left = bash(box, "for p in /proc/[0-9]*; do tr '\\0' ' ' < $p/cmdline 2>/dev/null; echo; done").text
        assert "nap 301" not in left
        assert box.run("echo still here").output == "still here\n"


def test_a_planted_file_at_an_output_name_is_never_opened(tmp_path):
    from trajscope.engine.sandbox.output import BoundedOutput, keep_output

    victim = tmp_path / "victim"
    victim.write_text("precious")
    outputs = tmp_path / "outputs"
    outputs.mkdir()
    (outputs / "0.log").symlink_to(victim)
    out = BoundedOutput()
    out.feed(b"agent output")
    saved = keep_output(outputs, "0.log", out)
    assert saved and Path(saved).name != "0.log" and Path(saved).read_bytes() == b"agent output"
    assert victim.read_text() == "precious"


def test_a_repository_root_replaced_by_a_link_steers_nothing(box, kind, tmp_path):
    """The agent replaces the repository itself with a link to / (or to a host folder):
    the file tools, git and the engine's chown must not follow it; a restore repairs it."""
    if kind == "docker":
        root_target = "/"
    else:
        root_target = str(tmp_path)
    (tmp_path / "host.txt").write_text("host file\n")
    before = os.stat(tmp_path / "host.txt")
    base = box.base
    bash(box, f"cd / && rm -rf {box.repo} && ln -s {root_target} {box.repo}; true")
    if kind != "docker":
        with pytest.raises(SandboxError):  # the step fails; nothing of the host is shown
            execute(Action("view", {"path": "host.txt"}), box)
        with pytest.raises(SandboxError):
            box.snapshot()
        with pytest.raises(SandboxError):
            box.diff()
        assert (tmp_path / "host.txt").read_text() == "host file\n"
        after = os.stat(tmp_path / "host.txt")
        assert (after.st_uid, after.st_gid) == (before.st_uid, before.st_gid)  # no chown through the link
    box.restore(base)
    assert box.read("pkg/mod.py").startswith("def f():")
    assert box.run("ls pkg").output.split() == ["mod.py"]


@pytest.mark.docker
def test_a_killed_docker_container_fails_its_step_and_is_replaced(source):
    """The agent kills what keeps its container up: that step fails with one sentence; the
    branch's states are in the session's store, so the next restore brings a new container."""
    docker_or_skip()
    from trajscope.engine.sandbox.docker import DockerSandbox

    with DockerSandbox(source=source) as box:
        box.write("pkg/mod.py", "def f():\n    return 3\n")
        state = box.snapshot()
        with pytest.raises(SandboxError, match="container stopped"):
            box.run("kill -9 $(cat /proc/1/task/1/children); sleep 5", timeout=20)
        box.restore(state)
        assert box.read("pkg/mod.py").endswith("return 3\n")
        assert box.run("echo alive").output == "alive\n"
