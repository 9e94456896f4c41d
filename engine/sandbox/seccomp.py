"""The seccomp filter of local commands: a few system calls answer an error, everything else runs.

- ``fallocate(2)`` answers "not supported". The disk quota of a local sandbox is watched
  (``quota``), which holds against writing, whose speed is bounded; but ``fallocate`` reserves a
  gigabyte in a millisecond, so a loop of them passed a 256 MiB limit by 3 GiB between two looks
  50 ms apart. Programs treat EOPNOTSUPP as a filesystem without preallocation and write instead
  (glibc's ``posix_fallocate`` does), which the watch keeps up with.
- ``link(2)``/``linkat(2)`` (a hard link) answer "not permitted", as on filesystems without them
  (git, pip and cp fall back on a copy or a rename). A second name of a tracked file, made in
  another folder, let a command change that file's mode with no event in the folder the restore
  watches (``dir_watch``), so the change reached the next branch.
- ``setxattr(2)`` and its kin answer "not supported": an access control list (``setfacl``) on a
  folder gives the files git later writes there modes of its own, and stays on the folder
  through every restore.
- an inode's flags (``chattr``: ``ioctl`` FS_IOC_SETFLAGS and FS_IOC_FSSETXATTR, ``file_setattr``)
  answer "not supported": a folder made +S (synchronous) stayed so through every restore, and
  what git or the next branch wrote there inherited it.
- ``io_uring_setup(2)`` answers "not implemented" (programs fall back on plain calls): its
  operations (fallocate, linkat, setxattr among them) never pass through this filter.

The program is classic BPF, built here so that no library is needed; bubblewrap loads it
(``--seccomp FD``). Architectures other than those below are not filtered.
"""

from __future__ import annotations

import errno
import os
import struct

_LD_ABS, _JEQ, _JA, _AND, _RET = 0x20, 0x15, 0x05, 0x54, 0x06
_ALLOW, _ERRNO = 0x7FFF0000, 0x00050000
_X32_BIT_OFF = 0xBFFFFFFF  # x32 calls are x86_64 numbers with bit 30 set
_ARCH, _NR, _ARG1 = 4, 0, 24  # offsets in seccomp_data (an argument's low word: little-endian only)

DENIED = {  # the error each call answers
    "fallocate": errno.EOPNOTSUPP,
    "link": errno.EPERM,
    "linkat": errno.EPERM,
    "setxattr": errno.EOPNOTSUPP,
    "lsetxattr": errno.EOPNOTSUPP,
    "fsetxattr": errno.EOPNOTSUPP,
    "setxattrat": errno.EOPNOTSUPP,
    "file_setattr": errno.EOPNOTSUPP,
    "io_uring_setup": errno.ENOSYS,
}

# AUDIT_ARCH_* and the numbers of the calls there (aarch64 has no link(2): linkat only); "ioctl"
# is not denied as such: only the requests of IOCTLS are
ARCHES = (
    (
        0xC000003E,  # x86_64 (and x32, whose own ioctl is 514 once its bit is off)
        {"fallocate": 285, "link": 86, "linkat": 265, "setxattr": 188, "lsetxattr": 189, "fsetxattr": 190},
        (16, 514),
    ),
    (
        0x40000003,  # i386
        {"fallocate": 324, "link": 9, "linkat": 303, "setxattr": 226, "lsetxattr": 227, "fsetxattr": 228},
        (54,),
    ),
    (0xC00000B7, {"fallocate": 47, "linkat": 37, "setxattr": 5, "lsetxattr": 6, "fsetxattr": 7}, (29,)),  # aarch64
)
_EVERYWHERE = {"io_uring_setup": 425, "setxattrat": 463, "file_setattr": 469}  # one number on every architecture

IOCTLS = {  # an inode's flags (chattr +S, +D, +A: synchronous writes, then inherited by what is made there)
    0x40086602: errno.EOPNOTSUPP,  # FS_IOC_SETFLAGS
    0x40046602: errno.EOPNOTSUPP,  # FS_IOC32_SETFLAGS
    0x401C5820: errno.EOPNOTSUPP,  # FS_IOC_FSSETXATTR
}


def _insn(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k)


def program() -> bytes:
    """The filter: for each architecture, each call of ``DENIED`` gets its error and an ioctl
    request of ``IOCTLS`` its own; everything else runs. One block an architecture (compare the
    architecture, load the call's number, compare it with each denied one), then the ioctl
    requests, then the returns: ALLOW, and one ERRNO an error. Jumps name their target; the
    offsets are worked out at the end."""
    errors = sorted(set(DENIED.values()) | set(IOCTLS.values()))
    code: list[tuple] = []  # (code, k, jump if true, jump if false, label), jumps by label
    code.append((_LD_ABS, _ARCH, None, None, None))
    for i, (arch, numbers, ioctls) in enumerate(ARCHES):
        following = f"arch{i + 1}" if i + 1 < len(ARCHES) else "allow"
        code.append((_JEQ, arch, None, following, f"arch{i}"))
        code.append((_LD_ABS, _NR, None, None, None))
        code.append((_AND, _X32_BIT_OFF, None, None, None))
        for name, nr in sorted((numbers | _EVERYWHERE).items()):
            code.append((_JEQ, nr, f"errno{DENIED[name]}", None, None))
        for nr in ioctls:
            code.append((_JEQ, nr, "ioctl", None, None))
        code.append((_JA, 0, "allow", None, None))
    code.append((_LD_ABS, _ARG1, None, None, "ioctl"))
    for request, err in IOCTLS.items():
        code.append((_JEQ, request, f"errno{err}", None, None))
    code.append((_RET, _ALLOW, None, None, "allow"))
    code += [(_RET, _ERRNO | err, None, None, f"errno{err}") for err in errors]
    at = {label: i for i, (*_rest, label) in enumerate(code) if label}
    prog = []
    for i, (op, k, jt, jf, _label) in enumerate(code):
        if op == _JA:
            prog.append(_insn(op, at[jt] - (i + 1)))
        elif op == _JEQ:
            t = at[jt] - (i + 1) if jt else 0
            f = at[jf] - (i + 1) if jf else 0
            if not (0 <= t < 256 and 0 <= f < 256):
                raise ValueError("a conditional jump of the seccomp filter is too long")
            prog.append(_insn(op, k, t, f))
        else:
            prog.append(_insn(op, k))
    return b"".join(prog)


def program_fd() -> int:
    """A pipe's read end holding the program, for ``bwrap --seccomp FD``; the caller closes it."""
    data = program()
    read_end, write_end = os.pipe()
    try:
        os.write(write_end, data)  # a few hundred bytes: far below a pipe's buffer
    finally:
        os.close(write_end)
    return read_end
