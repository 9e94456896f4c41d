"""The Sandbox protocol, one suite for both sandboxes (the Docker half against a real engine)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from trajscope.engine.sandbox import ExecResult, PathOutsideRepo, Sandbox, SandboxError
from trajscope.engine.sandbox.base import cap_output, repo_path
from tests.conftest import ROOT


@pytest.fixture
def source(tmp_path: Path) -> Path:
    repo = tmp_path / "src"
    (repo / "pkg").mkdir(parents=True)
    (repo / "pkg" / "mod.py").write_text("def f():\n    return 1\n")
    (repo / "README.md").write_text("# demo\n")
    (repo / ".gitignore").write_text("build/\n")
    return repo


def open_box(kind: str, source: Path, **options) -> Sandbox:
    if kind == "local":
        from trajscope.engine.sandbox.local import LocalSandbox

        return LocalSandbox(source, **options)
    from trajscope.engine.sandbox.docker import DockerSandbox

    return DockerSandbox(source=source, **options)


@pytest.fixture
def box(sandbox_kind: str, source: Path):
    sandbox = open_box(sandbox_kind, source)
    yield sandbox
    sandbox.close()


def test_is_a_sandbox(box):
    assert isinstance(box, Sandbox)


def test_run_in_repo_root(box):
    result = box.run("pwd; ls pkg; echo err >&2; exit 3")
    assert isinstance(result, ExecResult)
    assert result.exit_code == 3 and not result.ok
    lines = result.output.split()
    assert lines[0] == box.repo and "mod.py" in lines and "err" in lines
    assert not result.timed_out and result.duration > 0


def test_read_write(box):
    assert box.read("pkg/mod.py").startswith("def f():")
    box.write("pkg/sub/new.py", "x = 'é'\n")
    assert box.read(f"{box.repo}/pkg/sub/new.py") == "x = 'é'\n"
    assert box.run("cat pkg/sub/new.py").output == "x = 'é'\n"
    with pytest.raises(SandboxError, match="does not exist"):
        box.read("missing.py")
    with pytest.raises(SandboxError, match="directory"):
        box.read("pkg")


@pytest.mark.parametrize("path", ["../outside.txt", "/etc/passwd", "pkg/../../x", ""])
def test_path_escape_refused(box, path):
    with pytest.raises(PathOutsideRepo):
        box.read(path)
    with pytest.raises(PathOutsideRepo):
        box.write(path, "no")


def test_symlink_escape_refused(box):
    box.run("ln -s /etc leak && ln -s /etc/hostname leakfile")
    with pytest.raises(PathOutsideRepo):
        box.read("leakfile")
    with pytest.raises(PathOutsideRepo):
        box.write("leak/owned", "no")


def test_snapshot_restore(box):
    base = box.snapshot()
    assert base == box.base  # nothing changed yet: the same state, the same ref
    box.write("pkg/mod.py", "def f():\n    return 2\n")
    edited = box.snapshot()
    assert edited != base
    assert box.snapshot() == edited  # a read-only step adds no new state
    box.write("extra.txt", "later\n")
    box.run("mkdir -p build && echo artefact > build/out.bin")
    box.restore(edited)
    assert box.read("pkg/mod.py").endswith("return 2\n")
    assert "extra.txt" not in box.run("ls").output.split()
    # what a branch left untracked (ignored or not) never reaches another state
    assert box.run("ls -A build 2>/dev/null").output == ""  # (an emptied folder may stay: it holds nothing)
    box.restore(base)
    assert box.read("pkg/mod.py").endswith("return 1\n")
    with pytest.raises(SandboxError):
        box.restore("0" * 40)


def test_fork(box):
    box.write("pkg/mod.py", "def f():\n    return 3\n")
    ref = box.snapshot()
    child = box.fork(ref)
    try:
        assert child.read("pkg/mod.py").endswith("return 3\n")
        child.write("pkg/mod.py", "def f():\n    return 4\n")
        assert box.read("pkg/mod.py").endswith("return 3\n")  # independent work trees
        other = child.snapshot()
        box.restore(other)  # states saved in one sandbox restore in another
        assert box.read("pkg/mod.py").endswith("return 4\n")
    finally:
        child.close()


_LISTING = (
    "find . -name .git -prune -o \\( -type f -o -type l \\) -printf '%p %y %l\\n' | sort; "
    "find . -name .git -prune -o -type f -perm -u+x -print | sort; "
    "find . -name .git -prune -o -type f -exec md5sum {} + | sort -k 2"
)


def test_a_fork_that_reuses_a_closed_sandbox_holds_exactly_the_state(box):
    """A closed fork is reused by the next one (only what differs is restored): what the closed
    one's commands left (untracked and ignored files, a self-ignoring folder, a home file, a
    mode, a deleted file, a link over a file) is gone, and the state is whole: its added,
    deleted, executable and link entries, its base-ignored files, byte for byte."""
    box.run("rm README.md && echo new > added.txt && printf '#!/bin/sh\\n' > run.sh && chmod +x run.sh")
    box.run("ln -s pkg/mod.py link.py")
    box.write("pkg/mod.py", "def f():\n    return 7\n")
    ref = box.snapshot()
    box.restore(ref)
    expected = box.run(_LISTING).output
    assert "./link.py l pkg/mod.py" in expected and "./run.sh\n" in expected and "README" not in expected
    box.restore(box.base)
    first = box.fork(box.base)
    used = first.container.name if box.kind == "docker" else first.dir
    # (in Docker a file in HOME would replace the container at the restore: tamper's rule)
    planted = "/tmp/.planted" if box.kind == "docker" else "~/.planted"
    first.run(
        "echo junk > untracked.txt; mkdir -p build hidden && echo x > build/out.bin && echo '*' > hidden/.gitignore"
        f" && echo y > hidden/secret; echo z > {planted}; chmod +x added.txt 2>/dev/null; rm pkg/mod.py;"
        " rm -f README.md && ln -s /etc/passwd README.md"
    )
    first.close()
    second = box.fork(ref)
    try:
        assert (second.container.name if box.kind == "docker" else second.dir) == used  # the closed one, reused
        assert second.run(_LISTING).output == expected
        assert second.run(f"ls -A {planted} 2>/dev/null | wc -l").output.strip() == "0"
        assert second.snapshot() == ref
    finally:
        second.close()


def test_restore_puts_back_what_a_command_hid_from_a_stat_check(box):
    """A restore reads only the files whose stat changed: a same-size edit with its mtime set
    back (ctime still tells), a mode, a file made a link, and a folder moved and replaced by a
    link to it (each file's stat through the link is the saved one) are all put back."""
    box.write("pkg/util.py", "X = 1\n")
    ref = box.snapshot()
    box.restore(box.base)
    box.restore(ref)  # git's index now knows every file's stat
    expected = box.run(_LISTING).output
    box.run(
        "cp -p pkg/util.py /tmp/stamp && printf 'X = 2\\n' > pkg/util.py && touch -r /tmp/stamp pkg/util.py;"
        " chmod +x README.md; rm .gitignore && ln -s README.md .gitignore"
    )
    assert box.read("pkg/util.py") == "X = 2\n"
    box.restore(ref)
    assert box.run(_LISTING).output == expected
    box.run("mv pkg moved && ln -s moved pkg")
    box.restore(ref)
    assert box.run(_LISTING).output == expected and box.run("test -L pkg || echo dir").output.strip() == "dir"
    assert box.snapshot() == ref
    # a file a command changed that the state to restore lacks leaves the index and is in
    # neither tree of the two-tree restore: it goes with the untracked paths
    box.run("cp -p pkg/util.py /tmp/stamp && printf 'X = 3\\n' > pkg/util.py && touch -r /tmp/stamp pkg/util.py")
    box.restore(box.base)
    assert "pkg/util.py" not in box.run(_LISTING).output and box.diff() == ""


def test_a_snapshot_saves_type_changes_and_odd_names(box):
    """A snapshot stages what it listed for the size check: a folder made a file, a file made
    a folder, a new link, deletions and names with a space or a newline come back as they were."""
    box.run(
        "rm -r pkg && echo file > pkg; rm README.md && mkdir README.md && echo in > README.md/inner;"
        " ln -s README.md 'a link'; printf x > \"$(printf 'new\\nline')\"; mkdir -p deep/er && echo d > deep/er/f"
    )
    expected = box.run(_LISTING).output
    assert "./pkg f" in expected and "./README.md/inner f" in expected and "./a link l README.md" in expected
    ref = box.snapshot()
    box.restore(box.base)
    assert box.run(_LISTING).output != expected
    box.restore(ref)
    assert box.run(_LISTING).output == expected
    assert box.snapshot() == ref


def test_diff_against_base_round_trips(box, source, tmp_path):
    assert box.diff() == ""
    box.write("pkg/mod.py", "def f():\n    return 5\n")
    box.write("pkg/added.py", "NEW = True\n")
    box.run("python3 -c 'import pkg.mod' && ls pkg/__pycache__ >/dev/null 2>&1; true")
    box.run("mkdir -p pkg/__pycache__ && echo x > pkg/__pycache__/junk.pyc")
    patch = box.diff()
    assert "+    return 5" in patch and "pkg/added.py" in patch
    assert "__pycache__" not in patch
    copy = tmp_path / "copy"
    subprocess.run(["cp", "-r", str(source), str(copy)], check=True)
    subprocess.run(["git", "apply", "-"], input=patch.encode(), cwd=copy, check=True)
    assert (copy / "pkg" / "added.py").read_text() == "NEW = True\n"


@pytest.mark.slow
def test_timeout_kills_command_and_children(box):
    started = time.perf_counter()
    result = box.run("(sleep 3; touch late.txt) & sleep 30", timeout=1)
    assert result.timed_out and result.exit_code == -1
    assert "timed out" in result.output
    assert time.perf_counter() - started < 10
    time.sleep(3.5)
    assert "late.txt" not in box.run("ls").output.split()


def test_output_capped_head_and_tail_kept(box):
    result = box.run("python3 -c \"print('HEAD'); print('x' * 60000); print('TAIL')\"")
    assert result.truncated and len(result.output) < 11_000
    assert result.output.startswith("HEAD") and result.output.rstrip().endswith("TAIL")
    assert "characters omitted" in result.output
    full = Path(result.output_path).read_text()
    assert len(full) > 60000 and full.rstrip().endswith("TAIL")


def test_no_network(box):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    accepted = []
    threading.Thread(target=lambda: accepted.append(server.accept()), daemon=True).start()
    try:
        result = box.run(
            f"python3 -c \"import socket; socket.create_connection(('127.0.0.1', {port}), timeout=3)\"", timeout=20
        )
        assert result.exit_code != 0
        assert not accepted
    finally:
        server.close()


@pytest.mark.slow
def test_fork_bomb_contained(sandbox_kind, source):
    box = open_box(sandbox_kind, source, max_processes=64)
    try:
        result = box.run(":(){ :|:& };:; sleep 2; echo done", timeout=15)
        assert result.exit_code == 0 or result.timed_out
        assert box.run("echo still alive").output.strip() == "still alive"
    finally:
        box.close()


def test_memory_hog_contained(sandbox_kind, source):
    box = open_box(sandbox_kind, source, memory_mb=512)
    try:
        result = box.run("python3 -c \"x = bytearray(2 * 1024 ** 3); print('allocated')\"", timeout=60)
        assert result.exit_code != 0 and "allocated" not in result.output
        assert box.run("echo still alive").output.strip() == "still alive"
    finally:
        box.close()


def test_close_removes_everything(sandbox_kind, source):
    box = open_box(sandbox_kind, source)
    child = box.fork(box.snapshot())
    if sandbox_kind == "local":
        where = [Path(box.dir), Path(child.dir)]
        root = Path(box.dir).parent
    else:
        names = [box.container.name, child.container.name]
    child.close()
    box.close()
    box.close()  # closing twice is harmless
    if sandbox_kind == "local":
        assert not any(p.exists() for p in where) and not root.exists()
    else:
        from trajscope.engine.sandbox.docker import LABEL, client

        left = [c.name for c in client().containers.list(all=True, filters={"label": LABEL}, ignore_removed=True)]
        assert not set(names) & set(left)
    with pytest.raises(SandboxError):
        box.run("true")


_CRASHER = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {root!r})
    kind, source = sys.argv[1], sys.argv[2]
    if kind == "local":
        from trajscope.engine.sandbox.local import LocalSandbox
        box = LocalSandbox(source)
        print(box.dir, flush=True)
    else:
        from trajscope.engine.sandbox.docker import DockerSandbox
        box = DockerSandbox(source=source)
        print(box.container.name, flush=True)
    time.sleep(600)
""")


@pytest.mark.subprocess
def test_leftovers_of_a_killed_run_are_reaped(sandbox_kind, source, tmp_path):
    script = tmp_path / "crash.py"
    script.write_text(_CRASHER.format(root=str(ROOT)))
    proc = subprocess.Popen([sys.executable, str(script), sandbox_kind, str(source)], stdout=subprocess.PIPE, text=True)
    left = proc.stdout.readline().strip()
    assert left
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    if sandbox_kind == "local":
        from trajscope.engine.sandbox.local import reap_leftovers

        assert Path(left).exists()
        assert reap_leftovers() >= 1
        assert not Path(left).exists()
    else:
        from trajscope.engine.sandbox.docker import LABEL, client, reap_leftovers

        def names():
            return {c.name for c in client().containers.list(all=True, filters={"label": LABEL}, ignore_removed=True)}

        session = left.split("-")[1]
        assert left in names()
        assert list(Path("/tmp").glob(f"trajscope-docker-{session}-*"))
        assert reap_leftovers() >= 1
        assert left not in names()
        assert not list(Path("/tmp").glob(f"trajscope-docker-{session}-*"))  # its output directory too


def test_cap_output_and_repo_path():
    text, cut = cap_output("a" * 100 + "b" * 100, cap=50)
    assert cut and text.startswith("a" * 20) and text.endswith("b" * 30)
    assert cap_output("short", cap=50) == ("short", False)
    assert repo_path("x/../y.py", "/repo") == "/repo/y.py"
    assert repo_path("/repo/a.py", "/repo") == "/repo/a.py"
    with pytest.raises(PathOutsideRepo):
        repo_path("/repository/a.py", "/repo")


def test_another_base_dir_never_reaps_a_live_sandbox(tmp_path, source):
    """Two trajscope processes (or sandboxes) with other base directories: the second's
    clean-up of leftovers must not take the first's live cgroup for one."""
    from trajscope.engine.sandbox.local import LocalSandbox

    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    with LocalSandbox(source, base_dir=str(tmp_path / "one")) as first:
        if first._cgroup is None:
            pytest.skip("no pids cgroup can be made here (it takes root and a writable cgroup tree): none to take")
        with LocalSandbox(source, base_dir=str(tmp_path / "two")) as second:
            assert second.run("echo two").output == "two\n"
            assert first.run("echo one").output == "one\n"
            assert first._cgroup.exists()


# The whole tree as a command sees it: every name with its type and permission bits, every
# link's target and every file's bytes (the repository's own .git, where an image has one, is
# not the sandbox's to restore).
_TREE = (
    "find . -mindepth 1 -name .git -prune -o -printf '%p %y %m %l\\n' | LC_ALL=C sort; "
    "find . -name .git -prune -o -type f -print0 | LC_ALL=C sort -z | xargs -0 -r md5sum"
)


@pytest.fixture
def probe(tmp_path: Path) -> Path:
    """The review's repository: an ignored file present in the base, a link, a 755 file, a
    subfolder, and what git cannot keep (a 600 file, an empty folder)."""
    repo = tmp_path / "probe"
    (repo / "pkg").mkdir(parents=True)
    (repo / "pkg" / "mod.py").write_text("def f():\n    return 1\n")
    (repo / ".gitignore").write_text("*.log\n")
    (repo / "build.log").write_text("made in place\n")
    (repo / "tool.sh").write_text("#!/bin/sh\necho hi\n")
    (repo / "tool.sh").chmod(0o755)
    (repo / "secret.txt").write_text("private\n")
    (repo / "secret.txt").chmod(0o600)
    (repo / "hollow").mkdir()
    os.symlink("pkg/mod.py", repo / "link.py")
    return repo


def test_a_fork_holds_what_a_restore_holds(sandbox_kind, probe):
    """The first sandbox at the base, a restore to the base and a fork at the base (new, and
    reusing a closed one) hold the same tree, name by name, with types, modes, links and bytes;
    so do a restore and a fork at a later state. The base's ignored file is in every one; an
    ignored file a command made is in none; what git cannot keep (a 600 mode, an empty folder)
    is lost the same way in all of them."""
    first = open_box(sandbox_kind, probe)
    forks = []
    try:
        at_base = first.run(_TREE).output
        assert "./build.log f 644" in at_base and "./link.py l 777 pkg/mod.py" in at_base
        assert "./tool.sh f 755" in at_base and "./secret.txt f 644" in at_base and "hollow" not in at_base
        first.run(
            "echo 2 >> pkg/mod.py; echo new > new.log; echo more >> build.log; chmod 600 tool.sh; mkdir empty;"
            " mkdir pkg/sub && echo x > pkg/sub/b.txt && chmod 755 pkg/sub/b.txt; ln -sfn tool.sh link.py"
        )
        later = first.snapshot()
        forks.append(first.fork(first.base))
        assert forks[0].run(_TREE).output == at_base
        forks.append(first.fork(later))
        at_later = forks[1].run(_TREE).output
        assert "./build.log f 644" in at_later and "new.log" not in at_later and "./empty" not in at_later
        assert "./pkg/sub/b.txt f 755" in at_later and "./tool.sh f 644" in at_later
        first.restore(later)
        assert first.run(_TREE).output == at_later
        first.restore(first.base)
        assert first.run(_TREE).output == at_base
        forks.pop().close()  # parked: the next fork reuses it
        forks.append(first.fork(first.base))
        assert forks[1].run(_TREE).output == at_base
        forks[0].run("rm build.log; echo x > new.log")
        forks[0].restore(later)
        assert forks[0].run(_TREE).output == at_later
    finally:
        for box in forks:
            box.close()
        first.close()


def test_putting_back_the_base_s_ignored_files_never_writes_through_a_link(probe, tmp_path):
    """A command replaces the base's ignored file by a link to a host file, a file the snapshot
    saves by one too, and a tracked folder by a link to a host folder that holds a file of the
    same name as the tracked one: the restore replaces the links and the snapshot's modes
    (the engine may be root) go through none of them; the host files keep their bytes and
    their 600 mode."""
    from trajscope.engine.sandbox.local import LocalSandbox

    target = tmp_path / "host.txt"
    target.write_text("host\n")
    target.chmod(0o600)
    (tmp_path / "hostdir").mkdir()
    (tmp_path / "hostdir" / "mod.py").write_text("host\n")
    (tmp_path / "hostdir" / "mod.py").chmod(0o600)
    box = LocalSandbox(probe)
    try:
        box.run(f"rm build.log && ln -s {target} build.log && ln -s {target} saved.txt")
        box.run(f"rm -r pkg && ln -s {tmp_path / 'hostdir'} pkg")
        assert box.run("readlink pkg").output.strip() == str(tmp_path / "hostdir")  # what the host resolves
        ref = box.snapshot()
        assert (tmp_path / "hostdir" / "mod.py").stat().st_mode & 0o777 == 0o600
        box.restore(box.base)
        box.restore(ref)
        assert box.run("cat build.log; readlink saved.txt").output == f"made in place\n{target}\n"
        assert target.read_text() == "host\n" and target.stat().st_mode & 0o777 == 0o600
        assert (tmp_path / "hostdir" / "mod.py").stat().st_mode & 0o777 == 0o600
    finally:
        box.close()


@pytest.mark.docker
def test_reaping_goes_on_when_a_container_goes_while_it_is_listed():
    """The list of containers inspects each one; one removed meanwhile (another trajscope's,
    another test worker's) raised NotFound out of the reaping, which every Docker sandbox's
    opening runs."""
    from tests.conftest import docker_or_skip

    docker_or_skip()
    from trajscope.engine.sandbox.daemon import LABEL, client, reap_leftovers
    from trajscope.engine.sandbox.image import BASE_IMAGE

    c = client()
    doomed = c.containers.create(BASE_IMAGE, "true", labels={LABEL: "1"})
    inspect = c.api.inspect_container

    def removed_first(container_id, *args, **kwargs):
        if container_id in (doomed.id, doomed.name):
            c.api.remove_container(doomed.id, force=True)
        return inspect(container_id, *args, **kwargs)

    c.api.inspect_container = removed_first
    try:
        assert reap_leftovers(c) >= 0
    finally:
        c.api.inspect_container = inspect
        try:
            c.api.remove_container(doomed.id, force=True)
        except Exception:  # noqa: BLE001 - removed by the test itself
            pass
