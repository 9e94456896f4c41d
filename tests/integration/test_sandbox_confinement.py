"""The local sandbox confines or refuses (issue 29, sections 2 and 5).

Without a working bubblewrap it stops with one sentence before any command runs (never
an unconfined fallback); running unconfined is ``--sandbox none``, asked for by name; as
root its commands run as a user of their own even where a pids cgroup exists; and what a
command writes is bounded (one file, its /tmp, and the sandbox's files as a whole).
Hostile commands here run only under bubblewrap, and containment is asserted first."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

import pytest

from trajscope.engine.actions import Action
from trajscope.engine.policy.base import Proposal
from trajscope.engine.sandbox import SandboxError
from trajscope.engine.sandbox import confine, programs
from trajscope.engine.sandbox.local import LocalSandbox
from trajscope.engine.sandbox.quota import DiskQuota, tree_usage
from tests.conftest import DEMO_TASKS, ROOT

TASK_DIR = next(p for p in DEMO_TASKS if p.name == "slugify-accents")


@pytest.fixture
def marker():
    """A host path any user could create (so that an unconfined command, even one run as a
    dedicated uid, would leave it): it must never appear."""
    folder = Path(tempfile.mkdtemp(prefix="trajscope-marker-"))
    folder.chmod(0o1777)
    yield folder / "ran-on-the-host"
    for child in folder.iterdir():
        child.unlink()
    folder.rmdir()


@pytest.fixture
def broken_bwrap(tmp_path: Path, monkeypatch) -> dict[str, str]:
    """A bwrap first in the folders trajscope looks in that fails as a broken one does (and
    never runs its command)."""
    fake = tmp_path / "fake-bin"
    fake.mkdir()
    (fake / "bwrap").write_text("#!/bin/sh\necho 'bwrap: setting up uid map: Permission denied' >&2\nexit 1\n")
    (fake / "bwrap").chmod(0o755)
    folders = f"{fake}{os.pathsep}{programs.SYSTEM_PATH}"
    monkeypatch.setenv("TRAJSCOPE_SYSTEM_PATH", folders)
    monkeypatch.setattr(confine, "_BWRAP_STATE", {})
    return {**os.environ, "TRAJSCOPE_SYSTEM_PATH": folders}


class TouchPolicy:
    """An agent whose first command would write the marker on the host."""

    name = "touch"

    def __init__(self, marker: Path):
        self.marker = marker

    def propose(self, context, n: int = 1, temperature=None):
        action = Action("bash", {"command": f"touch {self.marker}"}, f"touch {self.marker}")
        return [Proposal(action, thought="scripted") for _ in range(n)]


def assert_one_sentence(message: str, why: str) -> None:
    assert message.startswith(f"the local sandbox cannot confine the agent's commands: {why}")
    assert "apt-get install bubblewrap" in message and "dnf install bubblewrap" in message
    assert "--sandbox docker" in message and "--sandbox none" in message
    assert "\n" not in message.strip() and ". " not in message


def test_a_broken_bwrap_stops_the_session_before_any_command(broken_bwrap, marker, tmp_path):
    from trajscope.engine.session import Session
    from trajscope.engine.tasks import load_task_dir

    session = Session(load_task_dir(TASK_DIR), TouchPolicy(marker), tmp_path / "run.jsonl", sandbox="local")
    with pytest.raises(SandboxError) as caught:
        session.start()
    assert_one_sentence(str(caught.value), "bubblewrap does not work here (bwrap: setting up uid map")
    assert not marker.exists()
    log = tmp_path / "run.jsonl"
    assert not log.exists() or b"run_started" not in log.read_bytes()  # no run was said to start


@pytest.mark.subprocess
@pytest.mark.parametrize("command, out_name", [("run", "run.jsonl"), ("batch", "batch")])
def test_the_command_line_refuses_in_one_sentence_and_writes_nothing(broken_bwrap, marker, tmp_path, command, out_name):
    """A run, and a local batch before any of its searches starts."""
    out = tmp_path / out_name
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "trajscope.tui.cli",
            command,
            str(TASK_DIR),
            "--sandbox",
            "local",
            "--headless",
            "--out",
            str(out),
        ],
        cwd=ROOT,
        env=broken_bwrap,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2, proc.stderr
    line = proc.stderr.strip()
    assert line.count("\n") == 0 and line.startswith("trajscope: ")
    assert_one_sentence(line.removeprefix("trajscope: "), "bubblewrap does not work here")
    assert not out.exists() and not marker.exists()


def test_auto_without_docker_refuses_like_local(broken_bwrap, monkeypatch):
    from trajscope.engine.launch import pick_sandbox
    from trajscope.engine.sandbox import docker as docker_sandbox
    from trajscope.engine.sandbox.base import SandboxError
    from trajscope.engine.tasks import load_task_dir

    monkeypatch.setattr(docker_sandbox, "docker_available", lambda: (False, "no daemon"))
    with pytest.raises(SandboxError) as caught:
        pick_sandbox("auto", load_task_dir(TASK_DIR))
    assert_one_sentence(str(caught.value), "bubblewrap does not work here")
    assert pick_sandbox("none", load_task_dir(TASK_DIR)) == "none"  # the named choice is taken as is


def test_missing_bwrap_and_bwrap_turned_off_refuse_too(source, tmp_path, monkeypatch):
    monkeypatch.setattr(confine, "_BWRAP_STATE", {})
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("TRAJSCOPE_SYSTEM_PATH", str(empty))
    with pytest.raises(SandboxError) as caught:
        LocalSandbox(source, base_dir=str(tmp_path))
    assert_one_sentence(str(caught.value), f"bubblewrap (bwrap) is not installed in {empty}")
    monkeypatch.undo()
    monkeypatch.setenv("TRAJSCOPE_BWRAP", "0")  # no longer a way to run unconfined
    with pytest.raises(SandboxError) as caught:
        LocalSandbox(source, base_dir=str(tmp_path))
    assert_one_sentence(str(caught.value), "bubblewrap is turned off (TRAJSCOPE_BWRAP=0)")
    assert not list(tmp_path.glob("trajscope-*"))  # refused before the copy was made


def test_a_program_in_a_folder_others_can_write_is_passed_over(tmp_path, monkeypatch):
    """Only a file that root or the engine's user alone can change is run: a bwrap in a folder
    anyone can write, first in the folders searched, gives way to the system's."""
    open_folder = tmp_path / "open"
    open_folder.mkdir()
    open_folder.chmod(0o777)
    (open_folder / "bwrap").write_text("#!/bin/sh\nexit 0\n")
    (open_folder / "bwrap").chmod(0o755)
    system, _ = programs.find("bwrap")
    monkeypatch.setenv("TRAJSCOPE_SYSTEM_PATH", f"{open_folder}{os.pathsep}{programs.SYSTEM_PATH}")
    if system:
        assert programs.find("bwrap") == (system, "")
    monkeypatch.setenv("TRAJSCOPE_SYSTEM_PATH", str(open_folder))
    path, why = programs.find("bwrap")
    assert (
        path is None
        and why == f"was found only where others than root could change it ({open_folder} is writable by others)"
    )
    assert str(open_folder) not in programs.trusted_path().split(os.pathsep)


SHIM_RUN = """
import json, sys
from trajscope.engine.sandbox.local import LocalSandbox
with LocalSandbox(sys.argv[1], base_dir=sys.argv[2]) as box:
    seen = box.run(f"id -u; test -e {sys.argv[1]} && echo host-visible || echo host-hidden").output.split()
    box.write("pkg/mod.py", "def f():\\n    return 2\\n")
    state = box.snapshot()  # engine-side bash and git
    box.restore(box.base)
    print(json.dumps({"uid": box._uid, "seen": seen, "state": state}))
"""


@pytest.mark.subprocess
def test_a_bwrap_planted_beside_the_python_or_first_on_path_never_runs(source, tmp_path):
    """Commands started the bare name bwrap, looked up in their PATH (the Python's folder
    first), after the probe had checked another: a shim there that runs its last three
    arguments ran every command unconfined, as root, and the check still passed. The
    commands here are harmless whichever runs them: who they ran as and what they saw."""
    pybin = tmp_path / "pybin"  # a venv's bin/: its user can write it
    pybin.mkdir()
    (pybin / "python").symlink_to(os.path.realpath(sys.executable))
    ran = tmp_path / "shims-ran"
    for name in ("bwrap", "bash", "git", "setpriv"):
        (pybin / name).write_text(
            f"#!/bin/bash\necho {name} >> {ran}\n"
            + ('exec "${@: -3}"\n' if name == "bwrap" else f'exec /usr/bin/{name} "$@"\n')
        )
        (pybin / name).chmod(0o755)
    env = {
        "PATH": f"{pybin}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "PYTHONPATH": os.pathsep.join([str(ROOT), sysconfig.get_paths()["purelib"]]),
    }
    proc = subprocess.run(
        [str(pybin / "python"), "-c", SHIM_RUN, str(source), str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    if proc.returncode != 0 and "cannot confine" in proc.stderr:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but the local sandbox cannot confine here: {proc.stderr}")
        pytest.skip(proc.stderr.strip().splitlines()[-1])
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert not ran.exists(), f"a planted program ran: {ran.read_text().split()}"
    assert result["seen"][1] == "host-hidden"  # confined: the host's files are not there
    if os.geteuid() == 0:
        assert result["seen"][0] == str(result["uid"]) != "0"
    assert len(result["state"]) == 40


def confined(source: Path, tmp_path: Path, **options) -> LocalSandbox:
    try:
        box = LocalSandbox(source, base_dir=str(tmp_path), **options)
    except SandboxError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but the local sandbox cannot confine here: {exc}")
        pytest.skip(str(exc))
    assert box.isolated and box.kind == "local"
    return box


def test_the_commands_own_user_reads_the_system_files_the_sandbox_binds(source, tmp_path):
    """As root, commands run as a user of their own, and the /etc bubblewrap made on the way to
    its binds was 0700: git stopped at once ("unable to access '/etc/gitconfig'"), pip and
    Python's platform module at /etc/debian_version and os-release."""
    with confined(source, tmp_path) as box:
        assert box.run(f"test -e {source} && echo visible || echo hidden").output.strip() == "hidden"  # confined
        out = box.run("stat -c %a /etc && git init -q own && git -C own status --short && echo git-ran && ls /etc")
        assert out.ok, out.output
        lines = out.output.split()
        assert lines[0] == "755" and "git-ran" in lines and "ld.so.cache" in lines
        assert "shadow" not in lines and "sudoers" not in lines  # only the files it binds


def test_root_commands_never_run_as_root_even_with_a_cgroup(source, tmp_path):
    """As root with a pids cgroup, commands used to run as host uid 0 (capabilities dropped)."""
    if os.geteuid() != 0:
        pytest.skip("trajscope does not run as root here")
    with confined(source, tmp_path) as box:
        if box._cgroup is None:
            pytest.skip("no pids cgroup can be made here")
        out = box.run(
            "id -u; id -g; id -G; grep -E '^(CapEff|CapBnd|NoNewPrivs)' /proc/self/status; cat /proc/self/cgroup"
        ).output.split("\n")
        assert out[0] == out[1] == out[2] == str(box._uid) != "0"
        assert "CapEff:\t0000000000000000" in out and "CapBnd:\t0000000000000000" in out and "NoNewPrivs:\t1" in out
        assert any(box._cgroup.name in line for line in out)  # the cgroup still holds and kills them
        # The engine's tools still work, and what each side writes the other can change.
        box.write("pkg/mod.py", "def f():\n    return 2\n")
        assert box.run("echo '# agent' >> pkg/mod.py && touch pkg/new.py && mkdir -p a/b && echo x > a/b/c.py").ok
        assert box.read("pkg/mod.py").endswith("# agent\n")
        state = box.snapshot()
        box.restore(box.base)
        box.restore(state)  # git writes as root; only what it wrote is handed over
        done = box.run("echo more >> pkg/new.py && touch a/b/d && stat -c %u pkg/mod.py pkg/new.py a a/b a/b/c.py")
        assert done.output.split() == [str(box._uid)] * 5


@pytest.mark.subprocess
def test_two_processes_never_share_a_uid_nor_kill_each_others_commands(source, tmp_path, monkeypatch):
    """Each process counted uids from 61000 on its own: a batch's first two workers ran as one
    uid, and without a cgroup the end of one's command killed every process of that uid."""
    if os.geteuid() != 0:
        pytest.skip("trajscope does not run as root here")
    from trajscope.engine.sandbox import uids

    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from engine.sandbox.uids import UidLease; import sys; print(UidLease().uid, flush=True); sys.stdin.read()",
        ],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        taken = int(holder.stdout.readline())
        # this process counts from the other's uid: it must pass over it, not take it
        monkeypatch.setattr(uids, "_next", iter(range(taken - uids.UID_BASE, 10**6)))
        monkeypatch.setattr("trajscope.engine.sandbox.local.pids_cgroup", lambda *a: None)  # kills go by uid
        with confined(source, tmp_path) as box:
            assert box._uid != taken
            other = subprocess.Popen(
                ["setpriv", f"--reuid={taken}", f"--regid={taken}", "--clear-groups", "sleep", "30"]
            )
            try:
                box.run("true")
                box.close()  # kills what its own uid left, only
                time.sleep(0.2)
                assert other.poll() is None, "a sandbox killed a process of another sandbox's uid"
            finally:
                other.kill()
                other.wait()
    finally:
        holder.stdin.close()
        holder.wait(timeout=10)
    monkeypatch.setattr(uids, "_next", iter(range(taken - uids.UID_BASE, 10**6)))
    lease = uids.UidLease()  # the holder's end let its uid go: it is leased again
    lease.release()
    assert lease.uid == taken


def test_a_python_in_a_folder_only_root_enters_stays_usable(source, tmp_path, monkeypatch):
    """A venv made by mktemp -d is 0700: the commands' own uid must still run the Python in it."""
    if os.geteuid() != 0:
        pytest.skip("trajscope does not run as root here")
    venv = Path(tempfile.mkdtemp(prefix="trajscope-venv-"))  # 0700, like the plain-install smoke test's
    try:
        (venv / "bin").mkdir(mode=0o755)
        (venv / "bin" / "tool").write_text("#!/bin/sh\necho tool ran\n")
        (venv / "bin" / "tool").chmod(0o755)
        dirs = confine.python_dirs()
        monkeypatch.setattr(confine, "python_dirs", lambda: [*dirs, str(venv)])
        with confined(source, tmp_path) as box:
            assert box.run(f"{venv}/bin/tool").output == "tool ran\n"
    finally:
        for path in sorted(venv.rglob("*"), reverse=True):
            path.unlink() if path.is_file() else path.rmdir()
        venv.rmdir()


def test_sandbox_none_is_only_by_name_and_says_so(source):
    box = LocalSandbox(source, isolate=False)  # what --sandbox none opens; nothing hostile runs in it
    try:
        assert box.kind == "none" and not box.isolated and "UNCONFINED" in box.notice
        if os.geteuid() == 0:
            assert box.run("id -u").output.strip() == str(box._uid) != "0"
    finally:
        box.close()


def free_bytes(path: Path) -> int:
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


@pytest.mark.slow
def test_a_command_cannot_fill_the_host_disk(source, tmp_path):
    """fallocate, dd, many files, the home, /tmp and sparse files: each ends at the limit, the
    host loses at most the limit (and what a command writes between two looks), and the state
    is refused at once instead of being hashed for seconds."""
    limit = 32 << 20
    with confined(source, tmp_path, disk_mb=32) as box:
        assert box.run(f"test -e {source} && echo visible || echo hidden").output.strip() == "hidden"  # confined
        before = free_bytes(tmp_path)
        one = box.run("fallocate -l 2G big; echo rc=$?; stat -c %s big")
        assert "Operation not supported" in one.output and int(one.output.split()[-1]) == 0
        # A loop under the one-file limit: fallocate is refused, so it cannot outrun the watch.
        loop = box.run("for i in $(seq 1 200); do fallocate -l 31M f$i || break; done; du -sk . | cut -f1")
        assert "Operation not supported" in loop.output and int(loop.output.split()[-1]) < 1024
        two = box.run("dd if=/dev/zero of=dd.bin bs=1M count=2048 2>&1; echo rc=$?; stat -c %s dd.bin")
        assert "rc=153" in two.output and int(two.output.split()[-1]) <= limit
        tmp = box.run("head -c 100M /dev/zero > /tmp/x; echo rc=$?; stat -c %s /tmp/x")
        assert "rc=0" not in tmp.output and int(tmp.output.split()[-1]) <= limit
        many = box.run(
            "for i in $(seq 1 100); do head -c 8M /dev/zero > $HOME/f$i || break; done; echo survived", timeout=60
        )
        assert "passed its disk limit" in many.output and "survived" not in many.output and not many.ok
        lost = before - free_bytes(tmp_path)
        assert lost <= 2 * limit + (64 << 20), lost >> 20  # dd.bin and the rest: the limit, plus one look's worth
        started = time.perf_counter()
        with pytest.raises(SandboxError, match="disk limit"):
            box.snapshot()
        assert time.perf_counter() - started < 1
        box.restore(box.base)  # the branch's damage goes with it: home and untracked files
        assert not box._quota.over and box.run("ls; ls $HOME | wc -l").output.split() == ["pkg", "0"]
        started = time.perf_counter()
        assert box.snapshot() == box.base
        assert time.perf_counter() - started < 5
        assert before - free_bytes(tmp_path) < limit
        # Sparse files cost no disk, but git would read their zeros: refused before it does.
        box.run("for i in $(seq 1 100); do truncate -s 31M s$i; done")
        started = time.perf_counter()
        with pytest.raises(SandboxError, match="changed files hold more than the sandbox's disk limit"):
            box.snapshot()
        box.restore(box.base)
        assert time.perf_counter() - started < 5 and box.run("ls").output.split() == ["pkg"]


def test_hard_links_count_their_bytes_once_while_they_are_links(source, tmp_path):
    """21 names of one file counted 21 times its size in the walk that confirms the quota
    (a command could be killed for space it did not take). The walk counts a file's bytes
    once. A saved state is another matter: git keeps no hard links, a restore writes each
    name as a file of its own, so the snapshot counts every name and says so. A confined
    command cannot make a hard link (seccomp); the links here are made as a command under
    ``--sandbox none`` would make them, by this test's own process in the work tree."""
    with confined(source, tmp_path, disk_mb=16) as box:
        assert box.run(f"test -e {source} && echo visible || echo hidden").output.strip() == "hidden"  # confined
        assert box.run("head -c 6M /dev/urandom > big && ln big l0").exit_code != 0  # refused in the sandbox
        repo = Path(box.repo)
        for i in range(1, 21):
            os.link(repo / "big", repo / f"l{i}")
        made = box.run("du -sk --count-links . | cut -f1")
        assert made.ok and "disk limit" not in made.output and int(made.output) > 16 << 10  # 126 MB by name
        assert not box._quota.measure() and box._quota.used[0] - box._shared.size[0] < 8 << 20  # 6 MB held
        started = time.perf_counter()
        with pytest.raises(
            SandboxError,
            match=r"would hold more than the sandbox's disk limit .* once restored "
            r"\(git saves each hard link as a file of its own\)",
        ):
            box.snapshot()
        assert time.perf_counter() - started < 2  # refused before git read 126 MB
        assert box.run("rm l*").ok
        os.link(repo / "big", repo / "l1")  # two names, 12 MB once restored: within the limit
        state = box.snapshot()
        box.restore(box.base)
        box.restore(state)
        assert box.run("cmp big l1 && ls").output.split() == ["big", "l1", "pkg"]
        assert not box._quota.over


def test_hard_links_extended_attributes_inode_flags_and_io_uring_are_refused_other_calls_run(source, tmp_path):
    """A hard link let a command change a tracked file's mode from a folder the restore does not
    look in; an access control list on a folder gives the files git later writes there modes of
    its own; an inode flag (chattr +S) on a folder stayed through restores and passed to what was
    written there; io_uring's operations pass by seccomp. Each answers an error a program falls back
    from; links, renames and plain writes go on."""
    probe = (
        "import ctypes, errno, fcntl, os, struct\n"
        "def err(call):\n"
        "    try:\n        call()\n    except OSError as exc:\n        return errno.errorcode[exc.errno]\n"
        "    return 'ran'\n"
        "open('a', 'w').write('a')\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "uring = libc.syscall(425, 1, ctypes.create_string_buffer(120))\n"
        "print(err(lambda: os.link('a', 'b')), err(lambda: os.setxattr('a', 'user.x', b'1')),\n"
        "      err(lambda: os.setxattr('.', 'system.posix_acl_default', b'\\x02\\0\\0\\0')),\n"
        "      errno.errorcode[ctypes.get_errno()] if uring < 0 else 'ran',\n"
        "      err(lambda: fcntl.ioctl(os.open('.', os.O_RDONLY), 0x40086602, struct.pack('l', 8))),\n"
        "      err(lambda: os.symlink('a', 's')), err(lambda: os.rename('a', 'c')), open('c').read())\n"
    )
    with confined(source, tmp_path) as box:
        assert box.run(f"test -e {source} && echo visible || echo hidden").output.strip() == "hidden"  # confined
        box.write("probe.py", probe)
        out = box.run(f"{sys.executable} probe.py || python3 probe.py")
        unsupported = errno.errorcode[errno.EOPNOTSUPP]  # ENOTSUP, its other name
        assert out.output.split() == ["EPERM", unsupported, unsupported, "ENOSYS", unsupported, "ran", "ran", "a"], (
            out.output
        )


def test_the_snapshot_store_of_a_session_is_bounded(source, tmp_path, monkeypatch):
    """Each saved state kept its objects until the session ended: writing 900 MB, saving and
    going back to the base cost the host 904, 1804, then 2709 MiB. The store's new objects
    are counted as they come (never by walking it); the snapshot that would pass the limit
    is refused in one sentence, keeps nothing, and the sandbox and its forks go on."""
    with confined(source, tmp_path, disk_mb=16, store_mb=10) as box:
        assert box.run(f"test -e {source} && echo visible || echo hidden").output.strip() == "hidden"  # confined
        store = box._shared.store
        start = tree_usage(store)[0]
        saved = []
        for i in range(3):
            assert box.run(f"head -c 3M /dev/urandom > blob{i}").ok
            saved.append(box.snapshot())
            box.restore(box.base)
        assert 9 << 20 <= box._shared.used <= 10 << 20
        assert box.run("head -c 3M /dev/urandom > blob3").ok
        with pytest.raises(SandboxError) as caught:
            box.snapshot()
        assert str(caught.value).startswith("the session's snapshot store is full: this state adds 3.0 MiB to the ")
        assert "past its limit of 10 MiB (TRAJSCOPE_STORE_MB); this state is not saved" in str(caught.value)
        assert tree_usage(store)[0] - start < (10 << 20) + (1 << 20)  # the refused state is not kept
        box.restore(box.base)  # its index named the dropped objects: built again from the files
        assert box.run("ls").output.split() == ["pkg"]
        box.restore(saved[1])
        assert box.run("ls; stat -c %s blob1").output.split() == ["blob1", "pkg", str(3 << 20)]
        held = tree_usage(store)[0]
        assert box.run("head -c 3M /dev/urandom > unsaved").ok
        box.diff()
        box.restore(box.base)  # what the diff and the restore hashed to compare is not kept
        assert tree_usage(store)[0] - held < 1 << 20
        with box.fork(box.base) as child:  # forks share the store and its limit
            assert child.run("head -c 3M /dev/urandom > more").ok
            with pytest.raises(SandboxError, match="snapshot store is full"):
                child.snapshot()
            child.write("pkg/mod.py", "def f():\n    return 2\n")
            child.run("rm more")
            small = child.snapshot()  # a few bytes still fit
        box.restore(small)
        assert box.read("pkg/mod.py") == "def f():\n    return 2\n"
    monkeypatch.setenv("TRAJSCOPE_STORE_MB", "lots")
    with pytest.raises(SandboxError, match="TRAJSCOPE_STORE_MB must be a whole number of MiB above 0, not 'lots'"):
        LocalSandbox(source, base_dir=str(tmp_path))


def test_many_empty_files_count_against_the_quota(tmp_path, monkeypatch):
    """Empty files cost no bytes but an inode each: the quota counts entries too. The free
    counts are given here (a shared machine's other writers would blur them); the walk that
    decides is real, so what others write never kills a command."""
    top = tmp_path / "box"
    top.mkdir()
    free = {"now": (10 << 30, 1_000_000)}
    quota = DiskQuota(top, (0, 0), 1 << 30, extra_files=50)
    monkeypatch.setattr(quota, "_free", lambda: free["now"])
    quota.begin()
    for i in range(40):
        (top / f"e{i}").touch()
    free["now"] = (10 << 30, 1_000_000 - 40)
    assert not quota.check()
    free["now"] = (10 << 30, 1_000_000 - 400)  # 360 more inodes gone, but not in the sandbox
    assert not quota.check() and quota.used == (0, 40)
    for i in range(40, 60):
        (top / f"e{i}").touch()
    free["now"] = (10 << 30, 1_000_000 - 420)
    assert quota.check() and quota.end() and quota.used[1] >= 60


def test_the_summaries_say_when_commands_ran_unconfined():
    from trajscope.tui.cli.search import summary_lines

    result = {
        "instance_id": "t",
        "selected": None,
        "submissions": 0,
        "resolved_submissions": 0,
        "nodes": 3,
        "wall_s": 1.0,
        "finished": "done",
        "log": "runs/t.jsonl",
        "sandbox": "none",
        "isolated": False,
    }
    assert summary_lines(result).startswith(
        "trajscope: NO sandbox (--sandbox none: the agent's commands ran unconfined)"
    )
    assert "unconfined" not in summary_lines(result | {"sandbox": "local", "isolated": True})
