"""The local sandbox's seccomp program (engine/sandbox/seccomp.py), run by a small classic-BPF
interpreter here on every call number of each architecture it filters: the denied calls and
ioctl requests get their error, every other call runs, and so does every call of another
architecture. The real kernel's answers are tested in
tests/integration/test_sandbox_confinement.py."""

from __future__ import annotations

import struct

from trajscope.engine.sandbox import seccomp

ALLOW = 0x7FFF0000


def run(program: bytes, arch: int, nr: int, arg1: int = 0) -> int:
    data = {4: arch, 0: nr, 24: arg1 & 0xFFFFFFFF}
    code = [struct.unpack("=HBBI", program[i : i + 8]) for i in range(0, len(program), 8)]
    a, pc = 0, 0
    for _ in range(len(code) + 1):  # classic BPF only jumps forward
        op, jt, jf, k = code[pc]
        pc += 1
        if op == 0x20:
            a = data[k]
        elif op == 0x54:
            a &= k
        elif op == 0x15:
            pc += jt if a == k else jf
        elif op == 0x05:
            pc += k
        elif op == 0x06:
            return k
        else:
            raise AssertionError(f"an instruction the filter should not hold: {op:#x}")
    raise AssertionError("the program ran past its end")


def test_every_call_of_every_filtered_architecture_gets_what_the_tables_say():
    program = seccomp.program()
    for arch, numbers, ioctls in seccomp.ARCHES:
        denied = {nr: seccomp.DENIED[name] for name, nr in (numbers | seccomp._EVERYWHERE).items()}
        for nr in range(1024):
            for x32 in (0, 0x40000000):
                got = run(program, arch, nr | x32)
                if nr in denied:
                    assert got == 0x00050000 | denied[nr], (hex(arch), nr, x32)
                elif nr in ioctls:
                    assert got == ALLOW, (hex(arch), nr)  # an ioctl other than those denied
                    for request, err in seccomp.IOCTLS.items():
                        assert run(program, arch, nr | x32, request) == 0x00050000 | err
                        assert run(program, arch, nr | x32, request | (1 << 32)) == 0x00050000 | err  # low word
                else:
                    assert got == ALLOW, (hex(arch), nr, x32)
    for nr in (86, 265, 285, 425, 16):  # another architecture is not filtered
        assert run(program, 0x12345678, nr, 0x40086602) == ALLOW


def test_the_denied_calls_are_those_the_security_notes_name():
    names = set(seccomp.DENIED)
    assert {"link", "linkat", "setxattr", "lsetxattr", "fsetxattr", "fallocate", "io_uring_setup"} <= names
    for _arch, numbers, _ioctls in seccomp.ARCHES:
        assert set(numbers) | set(seccomp._EVERYWHERE) <= names
