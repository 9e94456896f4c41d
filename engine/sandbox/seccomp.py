"""A seccomp filter for local commands: ``fallocate(2)`` answers "not supported".

The disk quota of a local sandbox is watched (``quota``), which holds against
writing, whose speed is bounded; but ``fallocate`` reserves a gigabyte in a
millisecond, so a loop of them passed a 256 MiB limit by 3 GiB between two looks
50 ms apart. Programs treat EOPNOTSUPP as a filesystem without preallocation and
write instead (glibc's ``posix_fallocate`` does), which the watch keeps up with.
The program is classic BPF, built here so that no library is needed; bubblewrap
loads it (``--seccomp FD``). Architectures other than those below are not filtered.
"""

from __future__ import annotations

import errno
import os
import struct

_LD_ABS, _JEQ, _AND, _RET = 0x20, 0x15, 0x54, 0x06
_ALLOW, _ERRNO = 0x7FFF0000, 0x00050000
_X32_BIT_OFF = 0xBFFFFFFF  # x32 calls are x86_64 numbers with bit 30 set

# (AUDIT_ARCH_*, the number of fallocate there)
FALLOCATE = ((0xC000003E, 285), (0x40000003, 324), (0xC00000B7, 47))  # x86_64 (and x32), i386, aarch64


def _insn(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k)


def program() -> bytes:
    """The filter: for each architecture, fallocate gets EOPNOTSUPP; everything else runs."""
    blocks = len(FALLOCATE)
    allow = 1 + 4 * blocks  # index of the ALLOW return; the ERRNO one follows it
    prog = [_insn(_LD_ABS, 4)]  # A = seccomp_data.arch
    for i, (arch, nr) in enumerate(FALLOCATE):
        at = 1 + 4 * i
        prog += [
            _insn(_JEQ, arch, 0, 3),  # another architecture: the next block (A still holds it)
            _insn(_LD_ABS, 0),  # A = seccomp_data.nr
            _insn(_AND, _X32_BIT_OFF),
            _insn(_JEQ, nr, allow + 1 - (at + 4), allow - (at + 4)),
        ]
    prog += [_insn(_RET, _ALLOW), _insn(_RET, _ERRNO | errno.EOPNOTSUPP)]
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
