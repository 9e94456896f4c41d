"""A restore (and a snapshot) that looks only in the folders whose entries changed does what a full walk would.

From its opening a local sandbox watches its work tree's folders (engine.sandbox.dir_watch)
and its restores and snapshots read only the folders a command changed. Each command below hides a path
in a way a folder watch could miss if it were wrong (a tracked folder removed and made anew, moved
away, replaced by a link, changed through a descriptor, ignored by the agent's own rule, or more
events than the kernel's queue holds); after the restore, git's own walk of every folder must find
nothing but the base's files. The commands run only under bubblewrap; containment is asserted first."""

from __future__ import annotations

import os
import struct
import subprocess
import time
from pathlib import Path

import pytest

from trajscope.engine.sandbox import SandboxError
from trajscope.engine.sandbox.local import LocalSandbox

pytestmark = pytest.mark.slow

HIDING = {
    "a file at the root": "echo x > new_at_root.txt",
    "new folders in a tracked folder": "mkdir -p pkg/sub/deeper && echo y > pkg/sub/deeper/z.py",
    "a file in a deep tracked folder": "echo q > pkg/deep/inner/leftover.txt",
    "a tracked folder made anew": "rm -rf pkg/deep && mkdir -p pkg/deep/inner && echo j > pkg/deep/inner/junk",
    "a tracked folder moved away": "mv pkg/deep pkg/moved && mkdir pkg/deep && echo k > pkg/deep/k",
    "two tracked folders swapped": "mv pkg/deep tmpd && mv docs pkg/deep && mv tmpd docs && echo s > docs/inner/s",
    "a tracked folder replaced by a link": "rm -rf pkg/deep/inner && ln -s ../.. pkg/deep/inner",
    "the agent's own ignore rule": "echo '*' > pkg/deep/.gitignore && echo h > pkg/deep/hidden",
    "a folder made through a descriptor": (
        'python3 -c \'import os; fd = os.open("pkg/deep/inner", os.O_RDONLY); '
        'os.mkdir("made", dir_fd=fd); open(f"/proc/self/fd/{fd}/made/f", "w").write("1")\''
    ),
    "a tracked file replaced by a folder": "rm pkg/mod.py && mkdir pkg/mod.py && echo 1 > pkg/mod.py/inner",
    "a file moved to another folder": "mv docs/inner/page.md pkg/deep/page.md",
    "a tracked folder replaced by a file": "rm -rf pkg/deep && echo x > pkg/deep",
    "a base-ignored .gitignore edited in place": "printf '*\\n!*/\\n!*.py\\n!*.bin\\n' > D/.gitignore",
    "a new .gitignore letting an ignored file in": "printf '!data.bin\\n' > D/sub/.gitignore",
    "a base-ignored folder": "echo b > build/lib/extra.o && mkdir build/new && echo n > build/new/n",
}


@pytest.fixture
def source(tmp_path: Path) -> Path:
    repo = tmp_path / "src"
    for folder in ("pkg/deep/inner", "docs/inner", "build/lib"):
        (repo / folder).mkdir(parents=True)
    (repo / "pkg" / "mod.py").write_text("def f():\n    return 1\n")
    (repo / "pkg" / "deep" / "inner" / "leaf.py").write_text("LEAF = 1\n")
    (repo / "docs" / "inner" / "page.md").write_text("page\n")
    (repo / ".gitignore").write_text("build/\n")
    (repo / "build" / "lib" / "out.o").write_bytes(b"obj")
    # a folder whose own rules ignore all but Python files (the rules file ignores itself)
    (repo / "D" / "sub").mkdir(parents=True)
    (repo / "D" / ".gitignore").write_text("*\n!*/\n!*.py\n")
    (repo / "D" / "sub" / "a.py").write_text("A = 1\n")
    (repo / "D" / "sub" / "data.bin").write_bytes(b"data")
    return repo


def _everything_untracked(sb: LocalSandbox) -> set[bytes]:
    """git's walk of every folder: every path its index does not track, ignored ones too."""
    out = sb._git_bytes(sb._git.untracked())
    return set(out.split(b"\0")) - {b""}


def _tree(sb: LocalSandbox, ref: str) -> bytes:
    return sb._git_bytes(sb._git._prelude() + f"g rev-parse {ref}^{{tree}}\n").strip()


def _tree_of_everything(sb: LocalSandbox) -> bytes:
    """What `git add -A` (a walk of every folder) makes of the work tree, in a copy of the index."""
    index = sb._git.index
    return sb._git_bytes(
        sb._git._prelude() + f"cp {index} {index}.all\nexport GIT_INDEX_FILE={index}.all\n"
        f"g add -A\ng write-tree\nrm -f {index}.all\n"
    ).strip()


def _files(repo: Path) -> dict[str, bytes]:
    return {str(p.relative_to(repo)): p.read_bytes() for p in sorted(repo.rglob("*")) if p.is_file()}


def _commit_all(where: Path) -> None:
    """Make ``where`` (the test's own source folder, on the host) a git repository of its files."""
    git = ["git", "-c", "user.name=a", "-c", "user.email=a@b"]
    env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": "/dev/null"}
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "i"]):
        subprocess.run(git + args, cwd=where, env=env, check=True, capture_output=True)


def _assert_confined(sb: LocalSandbox) -> None:
    assert sb.isolated and sb.kind == "local"
    seen = sb.run("test -e /home && echo HOST-HOME; test -e /etc/shadow && echo HOST-SHADOW; echo ok", timeout=30)
    assert seen.output.split() == ["ok"]


def test_a_restore_that_reads_only_changed_folders_leaves_what_a_full_walk_would(source):
    with LocalSandbox(source) as sb:
        _assert_confined(sb)
        base_files = _files(Path(sb.repo))
        base_untracked = _everything_untracked(sb)
        sb.restore(sb.base)  # a restore with nothing changed: the watch goes on
        for what, command in HIDING.items():
            assert sb.run(command, timeout=30).exit_code == 0, what
            hid = _everything_untracked(sb) != base_untracked or _files(Path(sb.repo)) != base_files
            assert hid, f"{what}: the command changed nothing"
            assert sb._watch is not None and sb._watch.changed() is not None, f"{what}: the watch was not used"
            # a snapshot looks for new files where the watch says; it saves what a full walk would
            assert _tree(sb, sb.snapshot()) == _tree_of_everything(sb), what
            sb.restore(sb.base)
            assert _everything_untracked(sb) == base_untracked, what
            assert _files(Path(sb.repo)) == base_files, what
            assert sb.diff() == "" and sb.snapshot() == sb.base, what


def test_a_sandbox_is_watched_from_its_opening_its_first_snapshot_and_restore_included(source):
    for i, (what, command) in enumerate(HIDING.items()):
        with LocalSandbox(source) as sb:
            if i == 0:
                _assert_confined(sb)
            base_files = _files(Path(sb.repo))
            base_untracked = _everything_untracked(sb)
            assert sb._watch is not None and sb._watch.changed() == (set(), set()), what
            assert sb.run(command, timeout=30).exit_code == 0, what
            assert sb._watch.changed() is not None, f"{what}: the watch was not used"
            assert _tree(sb, sb.snapshot()) == _tree_of_everything(sb), what
            sb.restore(sb.base)
            assert _everything_untracked(sb) == base_untracked, what
            assert _files(Path(sb.repo)) == base_files, what


def test_more_events_than_the_queue_holds_make_the_restore_walk_everything(source):
    queue = int(Path("/proc/sys/fs/inotify/max_queued_events").read_text())
    with LocalSandbox(source) as sb:
        _assert_confined(sb)
        base_untracked = _everything_untracked(sb)
        sb.restore(sb.base)
        # files made and removed overflow the queue; the one that stays is in a watched folder
        sb.run(f"cd pkg/deep && seq 1 {queue + 500} | xargs touch && seq 1 {queue + 500} | xargs rm", timeout=120)
        sb.run("echo z > pkg/deep/inner/stays", timeout=30)
        assert sb._watch.changed() is None  # the events were lost: only a full walk can tell
        sb.restore(sb.base)
        assert _everything_untracked(sb) == base_untracked
        # and the next restore is watched again
        sb.run("echo z > pkg/deep/inner/again", timeout=30)
        assert sb._watch.changed() is not None
        sb.restore(sb.base)
        assert _everything_untracked(sb) == base_untracked


def test_a_reused_fork_keeps_watching_and_leaves_nothing_of_the_last_branch(source):
    with LocalSandbox(source) as sb:
        _assert_confined(sb)
        base_untracked = _everything_untracked(sb)
        sb.run("echo kept > pkg/state.py", timeout=30)
        state = sb.snapshot()
        child = sb.fork(state)
        child.run("mkdir -p docs/inner/x && echo 1 > docs/inner/x/y", timeout=30)
        child.close()  # parked: the next fork restores it
        again = sb.fork(sb.base)
        assert again is child and again._watch is not None and again._watch.changed() is not None
        assert _everything_untracked(again) == base_untracked
        assert not (Path(again.repo) / "pkg" / "state.py").exists()
        again.close()


def test_without_watches_every_restore_walks_and_leaves_nothing(source, monkeypatch):
    from trajscope.engine.sandbox.dir_watch import DirWatch

    def no_room(self, rel):
        raise OSError(28, "No space left on device")  # inotify_add_watch past the user's limit

    monkeypatch.setattr(DirWatch, "_add", no_room)
    with LocalSandbox(source) as sb:
        _assert_confined(sb)
        base_untracked = _everything_untracked(sb)
        sb.restore(sb.base)
        assert sb._watch is None and sb._watch_refused  # not tried at every restore
        sb.run(HIDING["a tracked folder made anew"], timeout=30)
        sb.restore(sb.base)
        assert _everything_untracked(sb) == base_untracked and sb.diff() == ""


def test_a_folder_of_another_state_goes_with_what_a_command_changed_in_it(source):
    with LocalSandbox(source) as sb:
        _assert_confined(sb)
        base_untracked = _everything_untracked(sb)
        sb.run("mkdir -p pkg/deep/inner/s1/sub && echo b > pkg/deep/inner/s1/sub/f", timeout=30)
        state = sb.snapshot()
        sb.restore(state)
        for command in (
            "rm pkg/deep/inner/s1/sub/f",
            "echo x >> pkg/deep/inner/s1/sub/f",
            "mkdir pkg/deep/inner/s1/sub/h",
        ):
            sb.run(command, timeout=30)
            sb.restore(sb.base)
            assert _everything_untracked(sb) == base_untracked, command
            assert not (Path(sb.repo) / "pkg" / "deep" / "inner" / "s1").exists(), command
            sb.restore(state)


def test_a_state_s_own_path_where_a_base_ignored_file_was_stays_when_restored(source):
    # a command lifts the rule, puts its own file, link or folder where the base's ignored
    # build output was, and the state is saved: restoring it must give that state, not the base's file
    with LocalSandbox(source) as sb:
        _assert_confined(sb)
        sb.restore(sb.base)
        for command in (
            "rm -rf build && echo f > build",
            "rm -rf build && ln -s pkg build",
            "rm build/lib/out.o && mkdir build/lib/out.o && echo x > build/lib/out.o/x",
        ):
            sb.restore(sb.base)
            sb.run(f"printf '' > .gitignore && {command}", timeout=30)
            state = sb.snapshot()
            sb.restore(sb.base)
            sb.restore(state)
            assert _tree_of_everything(sb) == _tree(sb, state), command
            sb.restore(sb.base)
            assert (Path(sb.repo) / "build" / "lib" / "out.o").read_bytes() == b"obj", command


def _inotify_instances() -> int:
    fds = Path("/proc/self/fd")
    return sum(1 for fd in fds.iterdir() if _link(fd) == "anon_inode:inotify")


def _link(fd: Path) -> str:
    try:
        return str(fd.readlink())
    except OSError:
        return ""


def test_sandboxes_of_a_process_share_one_inotify_instance_and_see_only_their_own_changes(source):
    before = _inotify_instances()  # the process's own instance may be there already
    with LocalSandbox(source) as sb:
        _assert_confined(sb)
        sb.restore(sb.base)
        other = sb.fork(sb.base)
        try:
            assert other._watch is not None and other._watch._inotify is sb._watch._inotify
            assert _inotify_instances() <= before + 1  # a user may have 128, all programs together
            other.run("echo x > pkg/theirs.py", timeout=30)
            assert sb._watch.changed() == (set(), set())  # read by one, handed to its owner
            assert other._watch.changed() == ({b"pkg"}, set())
            other.restore(sb.base)
            assert not (Path(other.repo) / "pkg" / "theirs.py").exists()
        finally:
            other.close()


def test_a_forked_child_makes_its_own_inotify_instance():
    # the parent's events must never be read in a worker process forked from it
    from trajscope.engine.sandbox import dir_watch

    parent = dir_watch._instance()
    pid = os.fork()
    if pid == 0:
        child = dir_watch._instance()
        os._exit(0 if child is not parent and child.fd != parent.fd and not child.owners else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_a_nested_repository_in_an_ignored_folder_of_the_base_is_the_base_s_ignored_files(source):
    """Copied without its .git, a nested repository in an ignored folder is files the base
    ignores: in the first sandbox and in a fork, and a restore puts them back as they were
    (with a .git, no state held it and a watched restore left a branch's edits in it)."""
    ext = source / "build" / "ext"
    ext.mkdir()
    (ext / "n.txt").write_text("n\n")
    _commit_all(ext)
    with LocalSandbox(source) as sb:
        _assert_confined(sb)
        n = Path(sb.repo) / "build" / "ext" / "n.txt"
        assert n.read_text() == "n\n" and not (n.parent / ".git").exists()
        base_untracked = _everything_untracked(sb)
        sb.run("echo BRANCH > build/ext/n.txt && echo a > pkg/a.py", timeout=30)
        sb.snapshot()
        sb.restore(sb.base)
        assert _everything_untracked(sb) == base_untracked and n.read_text() == "n\n"
        fork = sb.fork(sb.base)
        assert (Path(fork.repo) / "build" / "ext" / "n.txt").read_text() == "n\n"
        fork.close()


def test_no_git_folder_is_in_the_copy_nor_stays_after_a_restore(source):
    """The copy of the repository has no .git (a nested repository's files are the
    repository's own then, saved and in every fork), and a .git a command makes (a config or
    hooks its own git would run in a later branch) goes at the next restore, watched or not:
    git's own walk skips every .git."""
    (source / "vendor").mkdir()
    (source / "vendor" / "lib.py").write_text("LIB = 1\n")
    _commit_all(source / "vendor")
    _commit_all(source)
    with LocalSandbox(source) as sb:
        _assert_confined(sb)
        assert not [p for p in Path(sb.repo).rglob(".git")]
        fork = sb.fork(sb.base)
        assert (Path(fork.repo) / "vendor" / "lib.py").read_text() == "LIB = 1\n"
        fork.close()
        plant = "mkdir -p .git pkg/deep/.git && echo '[core]' > .git/config && echo 'gitdir: /x' > docs/.git"
        for walked in (False, True):
            assert sb.run(plant, timeout=30).exit_code == 0
            if walked:
                sb._watch.lost = True  # as after lost events: the restore walks every folder
            sb.restore(sb.base)
            assert not [p for p in Path(sb.repo).rglob(".git")], walked


def test_folders_and_links_nested_past_python_s_recursion_limit_end_in_a_saved_and_restored_state(source):
    """os.walk, realpath and shutil.rmtree recurse: 1,100 nested folders and a chain of 1,200
    links (each step's own) crashed the watch, a snapshot's modes and the restore's removal
    with RecursionError."""
    deep = "d/" * 1100
    chain = "mkdir -p c && i=1; while [ $i -le 1200 ]; do ln -s l$((i + 1)) c/l$i; i=$((i + 1)); done; touch c/l1201"
    with LocalSandbox(source) as sb:
        _assert_confined(sb)
        base_untracked = _everything_untracked(sb)
        assert sb.run(f"mkdir -p {deep} && echo x > {deep}f && {chain}", timeout=60).exit_code == 0
        state = sb.snapshot()
        sb.restore(sb.base)
        assert _everything_untracked(sb) == base_untracked and not (Path(sb.repo) / "d").exists()
        sb.restore(state)
        assert (Path(sb.repo) / deep / "f").read_text() == "x\n"
        sb._watch.lost = True  # a walk of every folder too
        sb.restore(sb.base)
        assert _everything_untracked(sb) == base_untracked


MODES = {
    "chmod": "chmod 0500 pkg/deep && chmod 2777 docs && chmod 0 D/sub && chmod 600 pkg/mod.py && chmod 4755 docs/inner/page.md",
    "the root": "chmod 0500 .",
    "nested, the deepest first": "chmod 600 pkg/deep/inner/leaf.py && chmod 0 pkg/deep/inner && chmod 0 pkg/deep",
    "a folder moved away and back": "mv docs x && chmod 0 x/inner/page.md && chmod 0 x/inner && mv x docs",
    "a file replaced": "rm pkg/mod.py && (umask 077 && printf 'def f():\\n    return 1\\n' > pkg/mod.py)",
    "the sandbox's folder, above the work tree": "chmod 0 ..",
}


def _modes(repo: Path) -> dict[str, int]:
    return {
        str(p.relative_to(repo)) or ".": p.lstat().st_mode & 0o7777
        for p in [repo, *sorted(repo.rglob("*"))]
        if not p.is_symlink()
    }


def test_modes_a_command_set_do_not_reach_the_next_branch(source):
    """git restores a file's run bit only, and no folder's mode: a folder made 500 or a file
    made 600 stayed so after a restore, and the next branch's commands met "Permission denied".
    A restore gives them the modes a fork has (folders 755, files 644 or 755), watched or walked."""
    with LocalSandbox(source) as sb:
        _assert_confined(sb)
        repo = Path(sb.repo)
        fork = _modes(repo)
        assert set(fork.values()) == {0o755, 0o644}
        for name, command in MODES.items():
            for walked in (False, True):
                assert sb.run(command, timeout=30).exit_code == 0, name
                if walked:
                    sb._watch.lost = True  # as after lost events: the restore walks every folder
                sb.restore(sb.base)
                assert _modes(repo) == fork, (name, walked)
                again = sb.run("cat pkg/mod.py D/sub/a.py docs/inner/page.md >/dev/null && touch pkg/deep/t docs/t ~/t")
                assert again.ok, (name, walked, again.output)


def test_a_state_saved_with_modes_of_a_umask_is_restored_with_a_fork_s_modes(source):
    """Folders made under a umask of 077 are 700 in the branch that made them; restoring the state
    saved there (in that branch, or after another) gives 755, as a fork at it has."""
    with LocalSandbox(source) as sb:
        _assert_confined(sb)
        repo = Path(sb.repo)
        assert sb.run("umask 077 && mkdir -p newd/sub && echo n > newd/sub/f && echo m > pkg/deep/m").ok
        state = sb.snapshot()
        expected = {"newd": 0o755, "newd/sub": 0o755, "newd/sub/f": 0o644, "pkg/deep/m": 0o644}
        sb.restore(state)  # in place: what the command made is still there
        assert {p: m for p, m in _modes(repo).items() if p in expected} == expected
        sb.restore(sb.base)
        sb.restore(state)
        assert {p: m for p, m in _modes(repo).items() if p in expected} == expected
        with sb.fork(state) as other:
            assert {p: m for p, m in _modes(Path(other.repo)).items() if p in expected} == expected


WAITING_GIT = {
    "a FIFO at a nested .git/HEAD": "mkdir -p n/.git/objects n/.git/refs && mkfifo n/.git/HEAD && echo x > n/f",
    "a FIFO at .git/commondir": (
        "mkdir -p pkg/c/.git/objects pkg/c/.git/refs && echo 'ref: refs/heads/m' > pkg/c/.git/HEAD && "
        "mkfifo pkg/c/.git/commondir && echo x > pkg/c/f"
    ),
    "a gitfile naming a folder with a FIFO HEAD": (
        "mkdir -p g q/objects q/refs && mkfifo q/HEAD && echo 'gitdir: ../q' > g/.git && echo y > g/f"
    ),
    "a .git that is a link": "mkdir -p l && ln -s /tmp l/.git && echo z > l/f",
    # git reads a gitfile whole (a newline inside kept), up to a NUL, in its own process
    "a gitfile of two lines": (
        "mkdir -p g/evil/objects g/evil/refs 'g/ok\n' && mkfifo g/evil/HEAD && "
        "printf 'gitdir: ok\\n/../evil\\n' > g/.git && echo y > g/f"
    ),
    "a gitfile cut by a NUL": (
        "mkdir -p g q/objects q/refs && mkfifo q/HEAD && printf 'gitdir: ../q\\0x' > g/.git && echo y > g/f"
    ),
    "a gitfile through /proc/self": (
        "mkdir -p h/q/objects h/q/refs && mkfifo h/q/HEAD && printf 'gitdir: /proc/self/cwd/h/q\\n' > h/.git && "
        "echo y > h/f"
    ),
    "a commondir that is a link": (
        "mkdir -p k/.git/objects k/.git/refs && echo 'ref: refs/heads/m' > k/.git/HEAD && "
        "ln -s /proc/self/cwd/kf k/.git/commondir && mkfifo kf && echo y > k/f"
    ),
    "a FIFO at the root's .gitattributes": "mkfifo .gitattributes",
    "a FIFO at a tracked folder's .gitattributes": "mkfifo docs/.gitattributes",
    "a FIFO at a new folder's .gitignore": "mkdir -p a && mkfifo a/.gitignore && echo y > a/f",
}


@pytest.mark.parametrize("name", list(WAITING_GIT))
def test_a_nested_git_that_would_hold_git_fails_the_step_at_once_and_the_restore_goes_on(source, name):
    """git asks of each untracked folder whether it is a nested repository and opens its
    .git/HEAD (or commondir, or those of the folder a gitfile names) to tell: a FIFO there held
    every snapshot and diff of the branch, and every walked restore of the sandbox, until git's
    deadline (120 s), and a FIFO at a .gitattributes held every restore too, for ever. They end at
    once in one sentence now, and a restore (walked too) removes it; an ordinary nested repository
    holds nothing up."""
    with LocalSandbox(source) as sb:
        _assert_confined(sb)
        base, files = _everything_untracked(sb), _files(Path(sb.repo))
        for walked in (False, True):
            assert sb.run(WAITING_GIT[name], timeout=30).exit_code == 0
            if walked:
                sb._watch.lost = True  # as after lost events: git walks every folder
            for step, outcome in ((sb.snapshot, "this state is not saved"), (sb.diff, "no diff can be made")):
                started = time.perf_counter()
                with pytest.raises(SandboxError, match=rf"\.git\w* (is a|has a|names a) .*; {outcome}"):
                    step()
                assert time.perf_counter() - started < 5
            started = time.perf_counter()
            sb.restore(sb.base)
            assert time.perf_counter() - started < 5
            assert _everything_untracked(sb) == base and _files(Path(sb.repo)) == files
        # the agent's own nested repository holds no step up (it is not saved: README, "Sandboxes")
        assert sb.run("git init -q own && echo o > own/f && git -C own add f", timeout=30).ok
        state = sb.snapshot()
        assert "own/f" not in sb.diff()
        sb.restore(state)
        assert not (Path(sb.repo) / "own").exists()


def test_access_lists_and_attributes_of_the_user_s_files_are_not_copied(tmp_path):
    """The copy of the repository took the extended attributes of the user's files: a default
    access control list on a folder made what git wrote there later 0700 and 0600 (a fork has 755
    and 644)."""
    source = tmp_path / "src"
    (source / "docs" / "inner").mkdir(parents=True)
    (source / "docs" / "inner" / "page.md").write_text("page\n")
    (source / "run.sh").write_text("echo\n")
    # a default ACL of u::rwx,g::---,o::--- (the kernel's binary form), and a user attribute
    acl = struct.pack("<I", 2) + b"".join(
        struct.pack("<HHI", tag, perm, 0xFFFFFFFF) for tag, perm in ((1, 7), (4, 0), (0x20, 0))
    )
    try:
        os.setxattr(source / "docs", "system.posix_acl_default", acl)
        os.setxattr(source / "run.sh", "user.origin", b"host")
    except OSError as exc:
        pytest.skip(f"this filesystem keeps no ACL or attribute: {exc}")
    with LocalSandbox(source) as sb:
        _assert_confined(sb)
        repo = Path(sb.repo)
        assert [os.listxattr(p, follow_symlinks=False) for p in (repo / "docs", repo / "run.sh")] == [[], []]
        assert sb.run("rm -rf docs/inner", timeout=30).ok
        sb.restore(sb.base)
        assert _modes(repo) == {
            ".": 0o755,
            "docs": 0o755,
            "docs/inner": 0o755,
            "docs/inner/page.md": 0o644,
            "run.sh": 0o644,
        }


def test_a_lock_a_killed_git_left_does_not_fail_every_later_step(source):
    """git killed at its deadline leaves its index's lock; every later restore of the sandbox
    then failed at once ("remove the file manually to continue")."""
    with LocalSandbox(source) as sb:
        _assert_confined(sb)
        assert sb.run("echo x > pkg/new.py", timeout=30).ok
        Path(sb._git.index + ".lock").write_bytes(b"")
        Path(sb._ignored_index + ".lock").write_bytes(b"")
        sb.restore(sb.base)
        assert not (Path(sb.repo) / "pkg" / "new.py").exists()
        assert sb.run("echo y > pkg/new.py", timeout=30).ok
        Path(sb._git.index + ".lock").write_bytes(b"")
        assert "pkg/new.py" in sb.diff()
