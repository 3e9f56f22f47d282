"""The learner's kernel in an operating-system sandbox (bubblewrap), for both graders.

What the kernel sees while a submission is graded:

- no network: a network namespace of its own, with nothing in it;
- a file system put together for it: the system's programs and libraries and
  the Python environment, read-only; of the course, only the ``mi_helpers``
  package, read-only (no solutions, no tests, no ``.git``, no gradebook, no other
  submission); a private ``/tmp`` of limited size; a scratch folder that holds a
  copy of the submission's folder and is thrown away afterwards;
- its own process namespace: it cannot see or signal the grader, and every
  process it starts dies with it;
- an unprivileged user (a fresh uid when the grader runs as root) with limits
  on processes, file size and open files; memory is watched by the grader.

The grader talks to the kernel over Unix sockets in a folder shared with the
sandbox (ZeroMQ's ``ipc`` transport), and hands it requests as files in a
read-only inbox (:mod:`mi_helpers.remote`).

When bubblewrap is missing or cannot start, grading stops with
:class:`SandboxUnavailable`, which says how to install it: never silently
unsandboxed. ``mi-grade --unsandboxed`` is the explicit way out, for a learner
grading their own notebook on a machine without bubblewrap.
"""
from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager

PACKAGE_DIR = Path(__file__).resolve().parent
MAX_PROCESSES = 256  # processes and threads of the sandbox's user, beyond what it has already
MAX_FILE_MB = 256  # the largest file the kernel may write
TMP_MB = 512  # its /tmp
MAX_OPEN_FILES = 1024
SCRATCH_COPY_LIMIT_MB = 100  # a submission folder larger than this is not copied into the sandbox
INSTALL_HINT = ("install bubblewrap (Debian and Ubuntu: `sudo apt-get install bubblewrap`; "
                "`make test` installs it when run as root)")


class SandboxUnavailable(RuntimeError):
    """The sandbox cannot be set up here; grading refuses to go on without it."""


def _bwrap() -> str:
    found = shutil.which("bwrap")
    if not found:
        raise SandboxUnavailable("grading runs the learner's code in a sandbox, and bubblewrap (`bwrap`) "
                                 "is not installed: " + INSTALL_HINT)
    return found


def _python_roots() -> list[Path]:
    """The folders a Python kernel needs to read: the interpreter, the environment, site-packages."""
    roots = {Path(sys.prefix), Path(sys.base_prefix), Path(sys.exec_prefix), Path(sys.base_exec_prefix),
             Path(sys.executable).resolve().parent.parent}
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        path = sysconfig.get_paths().get(key)
        if path:
            roots.add(Path(path).resolve())
    roots = {r.resolve() for r in roots if r.exists()}
    # keep only the outermost of nested folders
    return sorted(r for r in roots if not any(o != r and o in r.parents for o in roots))


SYSTEM_DIRS = ("/usr", "/etc", "/opt")


@dataclass
class Sandbox:
    """One sandbox for one graded notebook: its folders, its user and the command that enters it."""

    workdir: Path | None = None  # the submission's folder, copied into the scratch folder
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="mi-sandbox-")))
    uid: int | None = None

    def __post_init__(self):
        self.bwrap = _bwrap()
        self.scratch = self.root / "work"
        self.ipc = self.root / "ipc"
        self.inbox = self.root / "inbox"
        for folder in (self.scratch, self.ipc, self.inbox):
            folder.mkdir(mode=0o755)
        os.chmod(self.root, 0o755)
        if self.workdir is not None:
            self._copy_workdir(Path(self.workdir))
        if os.geteuid() == 0:
            # a uid of its own: process limits count per user, and it owns nothing of the grader's
            self.uid = self.uid or self._free_uid()
            for folder in (self.scratch, self.ipc):
                for path in [folder, *folder.rglob("*")]:
                    os.lchown(path, self.uid, self.uid)
        self._verify()

    def _copy_workdir(self, source: Path) -> None:
        if not source.is_dir():
            return
        files = [p for p in source.rglob("*") if p.is_file() and not p.is_symlink()]
        if sum(p.stat().st_size for p in files) > SCRATCH_COPY_LIMIT_MB * 2 ** 20:
            return
        for path in files:
            target = self.scratch / path.relative_to(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)

    def _free_uid(self) -> int:
        """A uid that no process has and no other sandbox on this machine holds: drawn from the operating
        system's randomness (the grader's ``random`` may have been seeded: two graders seeded alike drew
        the same uid, and one's clean-up killed the other's kernel), and held with a lock on a file named
        after it until :meth:`close`, so that graders running side by side never share one."""
        import fcntl

        import psutil
        used = {p.info["uids"].real for p in psutil.process_iter(["uids"]) if p.info.get("uids")}
        draw = random.SystemRandom()
        while True:
            uid = draw.randrange(200_000, 900_000)
            if uid in used:
                continue
            lock = open(Path(tempfile.gettempdir()) / f"mi-sandbox-uid-{uid}.lock", "a")  # noqa: SIM115
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                lock.close()
                continue
            self._uid_lock = lock
            return uid

    # ------------------------------------------------------------ the command

    def _limits(self) -> list[str]:
        nproc = MAX_PROCESSES
        if os.geteuid() != 0:  # the limit counts every process of the user who grades
            import psutil
            mine = os.getuid()
            nproc += sum(p.num_threads() for p in psutil.process_iter()
                         if _safe(lambda p=p: p.uids().real) == mine)
        return ["prlimit", f"--nproc={nproc}", f"--fsize={MAX_FILE_MB * 2 ** 20}",
                f"--nofile={MAX_OPEN_FILES}", "--core=0", "--"]

    def command(self, argv: list[str], env: dict[str, str] | None = None) -> list[str]:
        """``argv`` wrapped so that it runs inside this sandbox."""
        cmd = [self.bwrap, "--die-with-parent", "--new-session", "--unshare-pid", "--unshare-net",
               "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try", "--hostname", "sandbox"]
        if os.geteuid() != 0:
            cmd.append("--unshare-user")
        for name in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
            path = Path(name)
            if path.is_symlink():
                cmd += ["--symlink", os.readlink(path), name]
            elif path.is_dir():
                cmd += ["--ro-bind", name, name]
        for name in SYSTEM_DIRS:
            if Path(name).is_dir():
                cmd += ["--ro-bind", name, name]
        made: set[str] = set()

        def mount(kind: str, path: Path) -> list[str]:
            # bubblewrap makes missing parent folders private (0700): make them 0755 first
            parents = [p for p in reversed(path.parents) if str(p) != "/" and str(p) not in made
                       and not any(str(p) == d or str(p).startswith(d + "/") for d in SYSTEM_DIRS)]
            made.update(str(p) for p in parents)
            return [arg for p in parents for arg in ("--perms", "0755", "--dir", str(p))] + [kind, str(path), str(path)]

        # the private /tmp first: what is bound below comes after it, even a checkout that lives in /tmp
        cmd += ["--proc", "/proc", "--dev", "/dev",
                "--perms", "1777", "--size", str(TMP_MB * 2 ** 20), "--tmpfs", "/tmp"]
        made.add("/tmp")
        for root in _python_roots():
            if not any(str(root) == d or str(root).startswith(d + "/") for d in SYSTEM_DIRS):
                cmd += mount("--ro-bind", root)
        cmd += mount("--ro-bind", PACKAGE_DIR)
        cmd += mount("--bind", self.scratch) + mount("--bind", self.ipc) + mount("--ro-bind", self.inbox)
        cmd += ["--chdir", str(self.scratch), "--clearenv"]
        environment = {
            "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
            "HOME": str(self.scratch), "TMPDIR": "/tmp", "LANG": "C.UTF-8",
            "MPLCONFIGDIR": "/tmp/matplotlib", "IPYTHONDIR": "/tmp/ipython",
            "JUPYTER_RUNTIME_DIR": "/tmp/jupyter", "PYTHONDONTWRITEBYTECODE": "1",
            "MI_SANDBOX_INBOX": str(self.inbox), "MI_SANDBOXED": "1",
        }
        for key in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OPENBLAS_CORETYPE",
                    "OPENBLAS_L2_SIZE", "PYTHONHASHSEED", "VIRTUAL_ENV"):
            if key in os.environ:
                environment[key] = os.environ[key]
        environment.update(env or {})
        for key, value in environment.items():
            cmd += ["--setenv", key, value]
        cmd.append("--")
        if self.uid is not None:
            cmd += ["setpriv", f"--reuid={self.uid}", f"--regid={self.uid}", "--clear-groups",
                    "--no-new-privs", "--inh-caps=-all", "--bounding-set=-all", "--"]
        return cmd + self._limits() + argv

    def _verify(self) -> None:
        """Start the sandbox once with `true`: a clear error now beats a kernel that never answers."""
        try:
            done = subprocess.run(self.command(["true"]), capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise SandboxUnavailable(f"the grading sandbox could not start ({exc}); " + INSTALL_HINT) from None
        if done.returncode != 0:
            why = (done.stderr or done.stdout).strip().splitlines()
            raise SandboxUnavailable("the grading sandbox could not start: bubblewrap said "
                                     f"{why[-1] if why else 'nothing'!r}. It needs user namespaces "
                                     "(or root) and setpriv/prlimit from util-linux") from None

    # ------------------------------------------------------------ the end

    def processes(self) -> list:
        """Processes still running as the sandbox's user (root mode), for the final clean-up."""
        if self.uid is None:
            return []
        import psutil
        return [p for p in psutil.process_iter(["uids"]) if p.info.get("uids") and p.info["uids"].real == self.uid]

    def close(self) -> None:
        """Kill whatever is left of the sandbox's processes and delete its folders."""
        for _ in range(3):
            left = self.processes()
            if not left:
                break
            for process in left:
                _safe(lambda p=process: p.send_signal(signal.SIGKILL))
            time.sleep(0.1)
        shutil.rmtree(self.root, ignore_errors=True)
        lock = getattr(self, "_uid_lock", None)
        if lock is not None:  # the uid is free for another sandbox once its processes are gone
            Path(lock.name).unlink(missing_ok=True)
            lock.close()
            self._uid_lock = None


def _safe(fn):
    try:
        return fn()
    except Exception:
        return None


class SandboxedKernelManager(AsyncKernelManager):
    """A kernel manager whose kernel starts inside a :class:`Sandbox` and listens on Unix sockets."""

    sandbox: Sandbox | None = None

    def format_kernel_cmd(self, extra_arguments=None):
        cmd = super().format_kernel_cmd(extra_arguments)
        if cmd and Path(cmd[0]).name.startswith("python"):
            cmd[0] = sys.executable  # the grader's own interpreter, whose environment the sandbox mounts
        return self.sandbox.command(cmd)

    async def _async_pre_start_kernel(self, **kw):
        # the connection file (with its key) lives in the shared folder, readable by the sandbox's user
        self.transport = "ipc"
        self.ip = str(self.sandbox.ipc / "kernel")
        self.connection_file = str(self.sandbox.ipc / "connection.json")
        cmd, kw = await super()._async_pre_start_kernel(**kw)
        if self.sandbox.uid is not None:
            os.chown(self.connection_file, self.sandbox.uid, self.sandbox.uid)
        kw["env"] = {}  # bubblewrap clears the environment anyway; nothing of the grader's leaks in
        # what the kernel prints outside a cell (a flood, on purpose or not) goes nowhere
        kw.update(stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return cmd, kw


def main() -> int:
    """``python -m mi_helpers.sandbox``: start the sandbox once and show what a kernel would see."""
    try:
        box = Sandbox()
    except SandboxUnavailable as exc:
        print(f"the grading sandbox does not work here: {exc}", file=sys.stderr)
        return 1
    probe = ("import os, socket; print('user id       ', os.getuid()); "
             "print('course visible', sorted(os.listdir(os.path.dirname(os.path.dirname(__import__('mi_helpers').__file__))))); "
             "s = socket.socket(); s.settimeout(2)\n"
             "try:\n    s.connect(('1.1.1.1', 80)); print('network        reachable')\n"
             "except OSError as e:\n    print('network       ', 'none (' + type(e).__name__ + ')')\n"
             "try:\n    open(__import__('mi_helpers').__file__, 'a'); print('package        writable')\n"
             "except OSError as e:\n    print('package        read-only (' + type(e).__name__ + ')')\n")
    try:
        done = subprocess.run(box.command([sys.executable, "-c", probe]), capture_output=True, text=True, timeout=60)
        print(done.stdout.strip() or done.stderr.strip())
        print("the grading sandbox works" if done.returncode == 0 else "the probe failed")
        return done.returncode
    finally:
        box.close()


if __name__ == "__main__":
    sys.exit(main())
