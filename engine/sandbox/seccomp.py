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
- ``io_uring_setup(2)`` answers "not implemented" (programs fall back on plain calls): its
  operations (fallocate, linkat, setxattr among them) never pass through this filter.

The program is classic BPF, built here so that no library is needed; bubblewrap loads it
(``--seccomp FD``). Architectures other than those below are not filtered.
"""

from __future__ import annotations

import errno
import os
import struct

_LD_ABS, _JEQ, _AND, _RET = 0x20, 0x15, 0x54, 0x06
_ALLOW, _ERRNO = 0x7FFF0000, 0x00050000
_X32_BIT_OFF = 0xBFFFFFFF  # x32 calls are x86_64 numbers with bit 30 set

DENIED = {  # the error each call answers
    "fallocate": errno.EOPNOTSUPP,
    "link": errno.EPERM,
    "linkat": errno.EPERM,
    "setxattr": errno.EOPNOTSUPP,
    "lsetxattr": errno.EOPNOTSUPP,
    "fsetxattr": errno.EOPNOTSUPP,
    "setxattrat": errno.EOPNOTSUPP,
    "io_uring_setup": errno.ENOSYS,
}

# AUDIT_ARCH_* and the numbers of the calls there (aarch64 has no link(2): linkat only)
ARCHES = (
    (
        0xC000003E,  # x86_64 (and x32)
        {"fallocate": 285, "link": 86, "linkat": 265, "setxattr": 188, "lsetxattr": 189, "fsetxattr": 190},
    ),
    (
        0x40000003,  # i386
        {"fallocate": 324, "link": 9, "linkat": 303, "setxattr": 226, "lsetxattr": 227, "fsetxattr": 228},
    ),
    (0xC00000B7, {"fallocate": 47, "linkat": 37, "setxattr": 5, "lsetxattr": 6, "fsetxattr": 7}),  # aarch64
)
_EVERYWHERE = {"io_uring_setup": 425, "setxattrat": 463}  # one number on every architecture since 5.1


def _insn(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k)


def program() -> bytes:
    """The filter: for each architecture, each call of ``DENIED`` gets its error; everything else
    runs. One block an architecture: compare the architecture, load the call's number, compare
    it with each denied one (a match jumps to that call's return); the returns follow the
    blocks, ALLOW first."""
    errors = sorted(set(DENIED.values()))
    blocks = []
    for arch, numbers in ARCHES:
        calls = sorted((numbers | _EVERYWHERE).items())
        blocks.append((arch, calls))
    size = sum(3 + len(calls) + 1 for _arch, calls in blocks)  # JEQ arch, LD nr, AND, the compares, JA allow
    allow = 1 + size  # index of the ALLOW return; one ERRNO return an error follows it
    prog = [_insn(_LD_ABS, 4)]  # A = seccomp_data.arch
    for arch, calls in blocks:
        start = len(prog)
        end = start + 3 + len(calls) + 1  # the next block
        prog.append(_insn(_JEQ, arch, 0, end - (start + 1)))  # another architecture: the next block
        prog += [_insn(_LD_ABS, 0), _insn(_AND, _X32_BIT_OFF)]  # A = seccomp_data.nr, x32's bit off
        for name, nr in calls:
            here = len(prog)
            target = allow + 1 + errors.index(DENIED[name])
            prog.append(_insn(_JEQ, nr, target - (here + 1), 0))
        prog.append(_insn(0x05, allow - (len(prog) + 1)))  # BPF_JMP|BPF_JA: allow
        assert len(prog) == end
    prog.append(_insn(_RET, _ALLOW))
    prog += [_insn(_RET, _ERRNO | code) for code in errors]
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
