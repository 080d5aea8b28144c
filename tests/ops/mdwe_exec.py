"""Run a command under systemd's MemoryDenyWriteExecute=yes rule, for tests:
`python mdwe_exec.py CMD ARGS...`.

The same seccomp filter systemd installs for it (src/shared/seccomp-util.c,
seccomp_memory_deny_write_execute): mmap with PROT_WRITE|PROT_EXEC, mprotect and
pkey_mprotect adding PROT_EXEC, shmat with SHM_EXEC fail with EPERM. Plus no_new_privs,
as NoNewPrivileges=yes. The filter survives execve, so the command runs under it."""
from __future__ import annotations

import ctypes
import os
import platform
import struct
import sys

PROT_WRITE, PROT_EXEC, SHM_EXEC = 0x2, 0x4, 0o100000
PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 38, 22, 2
RET_ALLOW, RET_EPERM = 0x7FFF0000, 0x00050000 | 1
LD_W_ABS, JEQ_K, AND_K, RET_K = 0x20, 0x15, 0x54, 0x06

# machine: (audit arch, mmap, mprotect, pkey_mprotect, shmat)
SYSCALLS = {
    "x86_64": (0xC000003E, 9, 10, 329, 30),
    "aarch64": (0xC00000B7, 222, 226, 288, 196),
}


def program() -> list[tuple[int, int, int, int]]:
    arch, mmap, mprotect, pkey_mprotect, shmat = SYSCALLS[platform.machine()]
    arg2 = 16 + 2 * 8  # low 32 bits of args[2] in struct seccomp_data (little-endian)

    def test(mask: int) -> list[tuple[int, int, int, int]]:
        return [(LD_W_ABS, 0, 0, arg2), (AND_K, 0, 0, mask), (JEQ_K, 0, 1, mask),
                (RET_K, 0, 0, RET_EPERM), (RET_K, 0, 0, RET_ALLOW)]

    wx, x, shm = test(PROT_WRITE | PROT_EXEC), test(PROT_EXEC), test(SHM_EXEC)
    head = [(LD_W_ABS, 0, 0, 4), (JEQ_K, 1, 0, arch), (RET_K, 0, 0, RET_ALLOW), (LD_W_ABS, 0, 0, 0)]
    # jump table: each jeq skips to its block; blocks follow in the order wx, x, shm
    table = [(JEQ_K, 0, 0, mmap), (JEQ_K, 0, 0, mprotect), (JEQ_K, 0, 0, pkey_mprotect),
             (JEQ_K, 0, 0, shmat), (RET_K, 0, 0, RET_ALLOW)]
    starts = {"wx": len(table), "x": len(table) + len(wx), "shm": len(table) + len(wx) + len(x)}
    targets = ["wx", "x", "x", "shm"]
    table = [(code, starts[t] - (i + 1), 0, k) for i, ((code, _, _, k), t) in enumerate(zip(table, targets))] + table[4:]
    return head + table + wx + x + shm


def install() -> None:
    insns = program()
    raw = b"".join(struct.pack("HBBI", *insn) for insn in insns)
    buf = ctypes.create_string_buffer(raw, len(raw))

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    prog = SockFprog(len(insns), ctypes.addressof(buf))
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS)")
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_SECCOMP)")


if __name__ == "__main__":
    install()
    os.execvp(sys.argv[1], sys.argv[1:])
