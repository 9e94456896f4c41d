"""Confining local commands: bubblewrap, privilege dropping, pids cgroups, killing.

Bubblewrap is required: where it is missing or broken the local sandbox refuses to
start (``refusal``) rather than run an agent's commands on the host; running them
unconfined is only ever the user's named choice (``--sandbox none``). A root process
runs its commands as an unprivileged user of their own (``drop_argv``), and also puts
them in a pids cgroup where one can be made: the kernel never applies a process limit to root, and
the cgroup lets every process of a command be killed. The bubblewrap that is tried is the
file every command runs (``programs``), never one found again by name.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from trajscope.engine.sandbox.programs import find
from trajscope.engine.sandbox.uids import UID_BASE

_BWRAP_LOCK = threading.Lock()
_BWRAP_STATE: dict[bool, tuple[bool, str, str]] = {}


INSTALL_HINT = (
    "install bubblewrap (apt-get install bubblewrap, dnf install bubblewrap, pacman -S bubblewrap, "
    "apk add bubblewrap), or use --sandbox docker, or --sandbox none to accept running the agent's "
    "commands unconfined on this machine"
)


def refusal(why: str) -> str:
    """The one sentence the local sandbox stops with when bubblewrap cannot confine it."""
    return f"the local sandbox cannot confine the agent's commands: {why}; {INSTALL_HINT}"


def bwrap_status(as_other_user: bool = False) -> tuple[bool, str]:
    """(usable, why not) for bubblewrap, probed once per process and mode.

    ``TRAJSCOPE_BWRAP=0`` turns bubblewrap off, which makes the local sandbox refuse to
    start exactly as when it is missing: it never means running unconfined."""
    if os.environ.get("TRAJSCOPE_BWRAP", "1") == "0":
        return False, "bubblewrap is turned off (TRAJSCOPE_BWRAP=0)"
    ok, why, _ = _bwrap_state(as_other_user)
    return ok, why


def bwrap_program(as_other_user: bool = False) -> str:
    """The bubblewrap that ``bwrap_status`` tried, by its real path: the one every command runs."""
    ok, why, exe = _bwrap_state(as_other_user)
    if not ok:
        raise RuntimeError(f"bubblewrap is not usable: {why}")
    return exe


def _bwrap_state(as_other_user: bool) -> tuple[bool, str, str]:
    with _BWRAP_LOCK:
        if as_other_user not in _BWRAP_STATE:
            _BWRAP_STATE[as_other_user] = _probe_bwrap(as_other_user)
        return _BWRAP_STATE[as_other_user]


def _probe_bwrap(as_other_user: bool) -> tuple[bool, str, str]:
    exe, why = find("bwrap")
    if not exe:
        return False, f"bubblewrap (bwrap) {why}", ""
    from trajscope.engine.sandbox.seccomp import program_fd

    drop = drop_argv(UID_BASE + 999) if as_other_user else []
    seccomp = program_fd()  # tried too: every command runs with it
    try:
        proc = subprocess.run(
            [exe, *bwrap_flags("/"), "--seccomp", str(seccomp), *drop, *inner_shell("true")],
            capture_output=True,
            timeout=10,
            pass_fds=(seccomp,),
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"bubblewrap does not start ({exc})", exe
    finally:
        os.close(seccomp)
    if proc.returncode != 0:
        err = proc.stderr.decode(errors="replace").strip().splitlines()
        return False, f"bubblewrap does not work here ({err[-1] if err else proc.returncode})", exe
    return True, "", exe


def inner_shell(command: str) -> list[str]:
    """bash inside bubblewrap: the host's, by its path, where the sandbox binds it."""
    bash, _ = find("bash")
    visible = bash and any(bash.startswith(d + "/") for d in SYSTEM_DIRS)
    return [bash if visible else "bash", "-c", command]  # type: ignore[list-item]


_HELP: dict[str, bytes] = {}


def bwrap_option(name: str) -> bool:
    """Whether the bubblewrap found has option ``name`` (``--size`` came in 0.7, ``--perms`` in 0.5)."""
    exe = find("bwrap")[0] or ""
    if exe not in _HELP:
        try:
            _HELP[exe] = subprocess.run([exe, "--help"], capture_output=True, timeout=10).stdout if exe else b""
        except (OSError, subprocess.TimeoutExpired):
            _HELP[exe] = b""
    return f"{name} ".encode() in _HELP[exe]


# What a sandboxed command sees of the host, read-only: the system's programs and
# libraries, the few files of /etc that programs need to run (no secrets: no shadow,
# no ssh keys, no sudoers), and the Python the engine runs with. Everything else
# (home directories, other projects, the engine's own files) is absent.
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
ETC_FILES = (
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "alternatives",
    "ssl",
    "ca-certificates",
    "ca-certificates.conf",
    "pki",
    "localtime",
    "timezone",
    "passwd",
    "group",
    "nsswitch.conf",
    "hosts",
    "host.conf",
    "os-release",
    "debian_version",
    "bash.bashrc",
    "profile",
    "inputrc",
    "mime.types",
    "terminfo",
    "magic",
    "protocols",
    "services",
)


def python_dirs() -> list[str]:
    """The directories that make up the Python in use (prefix, base prefix, its paths)."""
    import sysconfig

    dirs = [sys.prefix, sys.base_prefix, os.path.dirname(os.path.realpath(sys.executable))]
    for name in ("stdlib", "platstdlib", "purelib", "platlib", "scripts"):
        try:
            dirs.append(sysconfig.get_paths()[name])
        except KeyError:
            pass
    keep: list[str] = []
    for d in sorted({os.path.realpath(d) for d in dirs if d}, key=len):
        if (
            d != "/"
            and not any(d == k or d.startswith(k + "/") for k in keep)
            and not any(d == s or d.startswith(s + "/") for s in SYSTEM_DIRS)
        ):
            keep.append(d)
    return keep


def bwrap_flags(chdir: str, tmp_bytes: int | None = None, writable: tuple[str, ...] = ()) -> list[str]:
    """The bubblewrap options every command runs under; ``tmp_bytes`` bounds its private /tmp,
    ``writable`` are the folders it may change (the sandbox's own)."""
    flags = ["--die-with-parent", "--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--new-session"]
    for d in SYSTEM_DIRS:
        if os.path.islink(d):
            flags += ["--symlink", os.readlink(d), d]
        elif os.path.isdir(d):
            flags += ["--ro-bind", d, d]
    # /etc made first: a folder bubblewrap makes on the way to a bind is 0700, and a command run
    # as a user of its own (as root) could then read none of it (git stopped at /etc/gitconfig)
    flags += ["--dir", "/etc"]
    for name in ETC_FILES:
        flags += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    # The private /tmp first: a Python that lives below /tmp (a venv made there) is then
    # bound on top of it, not hidden by it.
    # Writable by the command's own user (a tmpfs is root's 0755 otherwise) and bounded in size.
    size = ["--size", str(tmp_bytes)] if tmp_bytes and bwrap_option("--size") else []
    sticky = ["--perms", "1777"] if bwrap_option("--perms") else []
    flags += ["--dev", "/dev", "--proc", "/proc", *sticky, *size, "--tmpfs", "/tmp", *sticky, "--dir", "/var/tmp"]
    made: set[str] = {"/", "/tmp", "/var/tmp"}
    for d in python_dirs():
        if d not in ("/tmp", "/var/tmp", "/home", "/root"):  # never a whole shared folder
            flags += [*_parents(d, made), *_ro_bind_enterable(d, made)]
    for d in writable:
        flags += [*_parents(d, made), "--bind", d, d]
    return [*flags, "--chdir", chdir]


def _ro_bind_enterable(path: str, made: set[str]) -> list[str]:
    """``path`` read-only, enterable by the command's user: a folder only its owner may enter
    (a venv made by ``mktemp -d`` is 0700) is made by bubblewrap, its entries bound in it."""
    try:
        if os.stat(path).st_mode & 0o001:
            return ["--ro-bind", path, path]
        entries = sorted(os.listdir(path))
    except OSError:
        return ["--ro-bind", path, path]
    made.add(path)
    return ["--dir", path, *(arg for name in entries for arg in ("--ro-bind", f"{path}/{name}", f"{path}/{name}"))]


def _parents(path: str, made: set[str]) -> list[str]:
    """The folders above ``path`` made traversable: bubblewrap makes them 0700, and the
    command may run as a user other than the one that starts bubblewrap."""
    flags = []
    for parent in reversed(Path(path).parents):
        if str(parent) not in made:
            made.add(str(parent))
            flags += ["--dir", str(parent)]
    return flags


# Used when setpriv is missing: the same drop, by the Python the sandbox binds anyway.
_DROP_PY = (
    "import ctypes,os,sys\nu=int(sys.argv[1]);libc=ctypes.CDLL(None,use_errno=True)\n"
    "for c in range(64): libc.prctl(24,c,0,0,0)\n"  # PR_CAPBSET_DROP
    "if libc.prctl(38,1,0,0,0): sys.exit('no_new_privs failed')\n"  # PR_SET_NO_NEW_PRIVS
    "os.setgroups([]);os.setgid(u);os.setuid(u);os.execvp(sys.argv[2],sys.argv[2:])"
)


def drop_argv(uid: int) -> list[str]:
    """The command line that, inside bubblewrap started by root, becomes ``uid`` for good
    before the agent's command runs: no groups, no capabilities (bounding set included),
    no new privileges (setuid programs gain nothing). Root starts bubblewrap itself so that
    it can bind what only root may read (a Python under /root); the agent never is root."""
    setpriv, _ = find("setpriv")
    if setpriv and any(setpriv.startswith(d + "/") for d in SYSTEM_DIRS):
        return [
            setpriv,
            f"--reuid={uid}",
            f"--regid={uid}",
            "--clear-groups",
            "--bounding-set=-all",
            "--inh-caps=-all",
            "--no-new-privs",
            "--",
        ]
    return [sys.executable, "-I", "-S", "-c", _DROP_PY, str(uid)]


def drop_to(uid: int | None) -> None:
    if uid is not None:
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)


def pids_cgroup(name: str, limit: int) -> Path | None:
    """A fresh pids cgroup holding at most ``limit`` processes, or None."""
    for parent in (Path("/sys/fs/cgroup/pids"), Path("/sys/fs/cgroup")):
        if not (parent / "cgroup.procs").exists():
            continue
        group = parent / "trajscope" / name
        try:
            group.mkdir(parents=True, exist_ok=True)
            (group / "pids.max").write_text(str(limit))
            return group
        except OSError:
            shutil.rmtree(group, ignore_errors=True)
    return None


def cgroup_name(root_name: str, n: int) -> str:
    """The cgroup of sandbox ``n`` of this process: it names its owner, so that another
    trajscope (with another base directory) never takes a live one for a leftover."""
    return f"{root_name}-p{os.getpid()}-sb{n}"


def reap_cgroups(tmp: Path) -> int:
    """Remove the cgroups of local sandboxes whose owner is gone (a killed run)."""
    reaped = 0
    for parent in (Path("/sys/fs/cgroup/pids/trajscope"), Path("/sys/fs/cgroup/trajscope")):
        if not parent.is_dir():
            continue
        for group in parent.iterdir():
            if not group.is_dir() or not group.name.startswith("trajscope-"):
                continue
            owner = re.search(r"-p(\d+)-sb\d+$", group.name)
            if owner is not None:
                gone = not alive(int(owner.group(1)))
            else:  # named by an older trajscope: its directory tells
                gone = not (tmp / group.name.rsplit("-sb", 1)[0]).exists()
            if gone:
                empty_cgroup(group)
                reaped += 1
    return reaped


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def empty_cgroup(group: Path) -> None:
    for _ in range(50):
        if not kill_cgroup_members(group):
            break
        time.sleep(0.01)
    try:
        group.rmdir()
    except OSError:
        pass


def count_processes(uid: int) -> int:
    n = 0
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid == uid:
                    n += 1
            except OSError:
                pass
    return n


def kill_cgroup_members(group: Path) -> int:
    """SIGKILL every process in ``group``; how many there were."""
    try:
        pids = [int(p) for p in (group / "cgroup.procs").read_text().split()]
    except OSError:
        return 0
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    return len(pids)


def kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def kill_user_processes(uid: int) -> int:
    """SIGKILL every process of ``uid`` (a sandbox's own user); how many there were."""
    n = 0
    for _ in range(20):
        found = 0
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                if entry.stat().st_uid == uid:
                    os.kill(int(entry.name), signal.SIGKILL)
                    found += 1
            except (OSError, ValueError):
                pass
        n += found
        if not found:
            break
        time.sleep(0.005)
    return n


def protect_engine() -> None:
    """Make this process's /proc files (environ: API keys) unreadable to its own user's
    other processes, as a command of an unconfined sandbox is one (Linux only)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE = 4: /proc/<pid>/* owned by root, no ptrace
    except (OSError, AttributeError):
        pass


_WARNED: set[str] = set()


def warn_once(message: str) -> None:
    """One line on stderr, once per process, for what a user must not miss."""
    if message not in _WARNED:
        _WARNED.add(message)
        print(f"trajscope: WARNING: {message}", file=sys.stderr, flush=True)
