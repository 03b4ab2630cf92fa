"""The ``unshare`` sandbox's first process: build the worker's view, drop privileges, exec it.

Run as ``python -I -S _nsinit.py SPEC ARGV...`` by ``unshare --user --map-root-user --net
--mount --pid --fork`` (so: PID 1 of a fresh PID namespace, root of a fresh user namespace);
it stays PID 1 and runs ARGV as its child.
Standard library only; it must not import the workbench (which may be about to be hidden).
A failure prints one line starting ``workbench sandbox:`` and exits 125.
"""

import ctypes
import json
import os
import resource
import sys

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_BIND, MS_REC = 4096, 16384
AT_FDCWD, AT_RECURSIVE = -100, 0x8000
MOUNT_ATTR_RDONLY = 0x1
SYS_MOUNT_SETATTR = 442  # the same number on x86_64 and aarch64
PR_SET_NO_NEW_PRIVS, PR_CAPBSET_DROP, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 38, 24, 47, 4

libc = ctypes.CDLL(None, use_errno=True)
libc.mount.argtypes = [ctypes.c_char_p] * 3 + [ctypes.c_ulong, ctypes.c_char_p]
libc.syscall.restype = ctypes.c_long


class MountAttr(ctypes.Structure):
    _fields_ = [(n, ctypes.c_uint64) for n in ("attr_set", "attr_clr", "propagation", "userns")]


def fail(step: str, err: int | None = None) -> None:
    why = os.strerror(err if err is not None else ctypes.get_errno())
    sys.stderr.write(f"workbench sandbox: {step}: {why}\n")
    sys.stderr.flush()
    os._exit(125)


def mount(src: str | None, dest: str, fstype: str | None, flags: int, data: str = "") -> None:
    enc = [s.encode() if s is not None else None for s in (src, dest, fstype, data)]
    if libc.mount(enc[0], enc[1], enc[2], flags, enc[3]) != 0:
        fail(f"mount {dest}")


def setattr_ro(path: str, ro: bool, recursive: bool) -> None:
    attr = MountAttr(MOUNT_ATTR_RDONLY if ro else 0, 0 if ro else MOUNT_ATTR_RDONLY, 0, 0)
    flags = AT_RECURSIVE if recursive else 0
    args = (
        ctypes.c_long(SYS_MOUNT_SETATTR),
        ctypes.c_int(AT_FDCWD),
        path.encode(),
        ctypes.c_uint(flags),
        ctypes.byref(attr),
        ctypes.c_size_t(ctypes.sizeof(attr)),
    )
    if libc.syscall(*args) != 0:
        fail(f"read-only {path} (mount_setattr needs Linux 5.12 or later)")


def main() -> None:
    spec = json.loads(sys.argv[1])
    argv = sys.argv[2:]
    # the sources of the binds, opened before anything hides them
    plan = [
        (op, path, os.open(path, os.O_PATH) if op == "keep" else -1) for op, path in spec["plan"]
    ]
    scratch = spec["scratch"]
    scratch_fd = os.open(scratch, os.O_PATH)
    setattr_ro("/", True, recursive=True)
    for op, path, fd in [*plan, ("keep", scratch, scratch_fd)]:  # outermost first
        os.makedirs(path, exist_ok=True)
        if op == "hide":
            mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=755")
        else:
            mount(f"/proc/self/fd/{fd}", path, None, MS_BIND | MS_REC)
            os.close(fd)
    setattr_ro(scratch, False, recursive=False)
    for op, path, _ in plan:
        if op == "hide":
            setattr_ro(path, True, recursive=False)
    if os.path.isdir("/dev/shm"):
        mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, f"size={spec['shm_bytes']}")
    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    os.chdir(scratch)
    resource.setrlimit(resource.RLIMIT_NPROC, (spec["nproc"], spec["nproc"]))
    # No capabilities after exec: an empty bounding set, no ambient or inheritable ones.
    libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    for cap in range(64):
        libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)
    header = (ctypes.c_uint32 * 2)(0x20080522, 0)
    if libc.capset(header, (ctypes.c_uint32 * 6)()) != 0:
        fail("drop capabilities")
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        fail("no_new_privs")
    # PID 1 stays this init (as bubblewrap's does): it reaps orphans, the worker keeps the
    # usual signal semantics, and its death by signal N comes out as exit code 128 + N.
    child = os.fork()
    if child == 0:
        try:
            os.execvp(argv[0], argv)
        except OSError as exc:
            fail(f"exec {argv[0]}", exc.errno)
    while True:
        pid, status = os.wait()
        if pid == child:
            code = os.waitstatus_to_exitcode(status)
            os._exit(128 - code if code < 0 else code)  # leaving ends every other process


main()
