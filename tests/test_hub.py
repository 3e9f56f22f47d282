"""A class on JupyterHub (deploy/jupyterhub_config.py), run end to end with real Unix users.

One instructor and three students (and one user outside the course) are made with useradd. The hub
starts from the course's deployment config, with its proxy (the Python configurable-http-proxy) and
the formgrader service running as the instructor; the students' servers are spawned through the
hub's REST API. Everything after that goes through the hub, as the user it belongs to: the
instructor generates and releases notebook 00 through the formgrader's API; each student fetches it
through their own server's assignment list, writes it through the contents API and submits it (one
honest, one empty, one hostile); the instructor collects, autogrades, generates and releases
feedback; the students fetch their feedback. Then ``nbgrader export`` gives the grades CSV, and the
test checks each student's points, what each user can and cannot read, and that every process the
hub started has stopped.
"""
from __future__ import annotations

import contextlib
import csv
import json
import os
import re
import secrets
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import psutil
import pytest
import requests

import hostile
from conftest import ROOT, SOLUTIONS, free_ports, notebook_path
from mi_helpers.checks import exercises_of
from submissions import C, solved

pytestmark = [
    pytest.mark.notebooks,
    pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("useradd"),
                       reason="a class needs real Unix users: run as root (CI does)"),
]

COURSE = "hands-on-mi"
ASSIGNMENT = notebook_path(SOLUTIONS, "00").stem
BIN = Path(sys.executable).parent
FULL_POINTS = sum(ex.points for ex in exercises_of("00"))
EXPECTED = {"honest": FULL_POINTS, "empty": 0, "hostile": FULL_POINTS - C.points}
SNOOP = """
import json, os, sys
found = {}
for path in sys.argv[1:]:
    try:
        found[path] = sorted(os.listdir(path)) if os.path.isdir(path) else len(open(path, "rb").read())
    except OSError as error:
        found[path] = type(error).__name__
print(json.dumps(found))
"""


@contextlib.contextmanager
def _reachable_by_all(*paths: Path):
    """Let every user traverse the folders above ``paths`` for a while (o+x, no listing), then put
    their modes back. The class's servers run the course's Python as the students: on a machine
    where that Python lives under /root (pyenv, as here), nobody else could start it. A real
    deployment installs the environment where all can read it (deploy/README.md)."""
    changed: dict[Path, int] = {}
    for path in paths:
        for folder in [path, *path.parents]:
            mode = folder.stat().st_mode
            if folder.is_dir() and not mode & stat.S_IXOTH and folder not in changed:
                changed[folder] = stat.S_IMODE(mode)
                os.chmod(folder, stat.S_IMODE(mode) | stat.S_IXOTH)
    try:
        yield
    finally:
        for folder, mode in changed.items():
            os.chmod(folder, mode)


def _run(*cmd: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kwargs)


class Class:
    """The Unix side of a class: a course group, its users with private homes, an exchange only the
    group can reach. Everything is named with a random tag and removed afterwards."""

    def __init__(self, base: Path):
        tag = secrets.token_hex(3)
        self.base = base
        self.group = f"mic{tag}"
        self.instructor = f"mi{tag}teach"
        self.students = {role: f"mi{tag}{role[:3]}" for role in EXPECTED}
        self.outsider = f"mi{tag}out"
        self.users: list[str] = []
        self.exchange = base / "srv" / "exchange"

    def home(self, user: str) -> Path:
        return self.base / "home" / user

    @property
    def course_dir(self) -> Path:
        return self.home(self.instructor) / COURSE

    def create(self):
        _run("groupadd", self.group)
        (self.base / "home").mkdir(parents=True)
        for user in [self.instructor, *self.students.values(), self.outsider]:
            groups = [] if user == self.outsider else ["-G", self.group]
            # private homes, as deploy/README.md says (Debian's useradd leaves them readable by all)
            _run("useradd", "-m", "-K", "HOME_MODE=0700", "-d", str(self.home(user)), "-s", "/bin/bash",
                 *groups, user)
            self.users.append(user)
        # the exchange: world-writable, as nbgrader wants, inside a folder only the course group enters
        srv = self.exchange.parent
        srv.mkdir()
        shutil.chown(srv, group=self.group)
        os.chmod(srv, 0o750)
        self.exchange.mkdir()
        os.chmod(self.exchange, 0o1777)
        # the instructor's course directory: this repository's nbgrader config, notebook 00's source
        source = self.course_dir / "classroom" / "source" / ASSIGNMENT
        source.mkdir(parents=True)
        shutil.copy(ROOT / "nbgrader_config.py", self.course_dir)
        shutil.copy(SOLUTIONS / f"{ASSIGNMENT}.ipynb", source)
        _run("chown", "-R", f"{self.instructor}:{self.instructor}", str(self.course_dir))

    def uids(self) -> set[int]:
        import pwd
        return {pwd.getpwnam(u).pw_uid for u in self.users}

    def processes(self) -> list[psutil.Process]:
        uids = self.uids()
        return [p for p in psutil.process_iter(["uids"]) if p.info.get("uids") and p.info["uids"].real in uids]

    def as_user(self, user: str, *cmd: str, cwd: Path | None = None, env: dict | None = None) -> str:
        return _run("runuser", "-u", user, "--", *cmd, cwd=cwd, env=env).stdout

    def snoop(self, user: str, *paths: Path) -> dict:
        """What ``user`` gets when listing or reading each path: a listing, a size, or an error's name."""
        return json.loads(self.as_user(user, sys.executable, "-c", SNOOP, *map(str, paths), cwd=Path("/")))

    def remove(self):
        for p in self.processes():
            p.kill()
        for user in self.users:
            subprocess.run(["userdel", "-r", user], capture_output=True)
        subprocess.run(["groupdel", self.group], capture_output=True)


class Hub:
    """JupyterHub started from deploy/jupyterhub_config.py, with a test service that holds an admin token."""

    def __init__(self, klass: Class, workdir: Path):
        self.klass = klass
        self.workdir = workdir
        port, hub_port, proxy_port, service_port = free_ports(4)
        self.url = f"http://127.0.0.1:{port}"
        self.token = secrets.token_hex(16)
        workdir.mkdir()
        (workdir / "jupyterhub_config.py").write_text(f"""
c = get_config()
load_subconfig({str(ROOT / 'deploy' / 'jupyterhub_config.py')!r})
c.JupyterHub.hub_port = {hub_port}
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{proxy_port}"
c.JupyterHub.services.append({{"name": "mi-test", "api_token": {self.token!r}}})
c.JupyterHub.load_roles.append({{"name": "mi-test", "services": ["mi-test"],
    "scopes": ["admin:users", "admin:servers", "tokens", "read:groups", "access:servers"]}})
""")
        self.env = {**os.environ, "MI_HUB_AUTH": "dummy", "MI_HUB_PASSWORD": secrets.token_hex(8),
                    "MI_HUB_URL": self.url, "MI_SERVICE_PORT": str(service_port),
                    "MI_COURSE_GROUP": klass.group, "MI_INSTRUCTOR": klass.instructor,
                    "MI_COURSE_DIR": str(klass.course_dir), "MI_EXCHANGE": str(klass.exchange),
                    "PATH": f"{BIN}:{os.environ.get('PATH', '')}"}
        self.log = open(workdir / "hub.log", "w")  # noqa: SIM115 (closed in stop)
        self.process = subprocess.Popen([str(BIN / "jupyterhub"), "-f", str(workdir / "jupyterhub_config.py")],
                                        cwd=workdir, env=self.env, stdout=self.log, stderr=subprocess.STDOUT,
                                        start_new_session=True)
        self.tokens: dict[str, str] = {}

    def fail(self, message: str):
        pytest.fail(f"{message}\n--- hub log (end) ---\n{(self.workdir / 'hub.log').read_text()[-6000:]}")

    def api(self, method: str, path: str, token: str | None = None, **kwargs) -> requests.Response:
        kwargs.setdefault("timeout", 60)
        return requests.request(method, self.url + path,
                                headers={"Authorization": f"token {token or self.token}"}, **kwargs)

    def until(self, what: str, ready, seconds: float = 120):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.fail(f"the hub stopped while waiting for {what}")
            try:
                value = ready()
                if value:
                    return value
            except requests.ConnectionError:
                pass
            time.sleep(0.5)
        self.fail(f"waited {seconds} s for {what}")

    def user_token(self, user: str) -> str:
        if user not in self.tokens:
            reply = self.api("POST", f"/hub/api/users/{user}/tokens", json={"expires_in": 1800, "note": "test"})
            if reply.status_code != 201:
                self.fail(f"no token for {user}: {reply.status_code} {reply.text}")
            self.tokens[user] = reply.json()["token"]
        return self.tokens[user]

    def as_user(self, user: str, method: str, path: str, **kwargs) -> requests.Response:
        """A request to the user's own server, through the proxy, with the user's token."""
        reply = self.api(method, f"/user/{user}{path}", self.user_token(user), **kwargs)
        if reply.status_code >= 400:
            self.fail(f"{method} /user/{user}{path} as {user}: {reply.status_code} {reply.text[:2000]}")
        return reply

    def formgrader(self, method: str, path: str, **kwargs) -> dict | list:
        """A request to the formgrader service, as the instructor."""
        kwargs.setdefault("timeout", 300)
        reply = self.api(method, f"/services/{COURSE}/formgrader/api{path}",
                         self.user_token(self.klass.instructor), **kwargs)
        if reply.status_code >= 400:
            self.fail(f"{method} formgrader{path}: {reply.status_code} {reply.text[:2000]}")
        body = reply.json()
        if isinstance(body, dict) and body.get("success") is False:
            self.fail(f"formgrader{path} failed: {body.get('error') or body.get('log')}")
        return body

    def stop(self) -> list[str]:
        """Stop the hub (it stops the servers, the service and the proxy); what was still running after."""
        started = self._started()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.log.close()
        deadline = time.monotonic() + 15
        while (left := self.klass.processes()) and time.monotonic() < deadline:
            time.sleep(0.5)
        left = {p.pid: p for p in [*left, *(p for p in started if p.is_running())]}
        described = [" ".join(_cmdline(p)[:3]) for p in left.values()]
        for p in left.values():
            p.kill()
        return described

    def _started(self) -> list[psutil.Process]:
        """What the hub started: its children still attached, and the proxy, whose pid it writes down
        (a proxy outlives a hub that crashed)."""
        found = []
        with contextlib.suppress(psutil.Error):
            found += psutil.Process(self.process.pid).children(recursive=True)
        with contextlib.suppress(OSError, ValueError, psutil.Error):
            found.append(psutil.Process(int((self.workdir / "jupyterhub-proxy.pid").read_text())))
        return found


def _cmdline(process: psutil.Process) -> list[str]:
    try:
        return process.cmdline()
    except psutil.Error:
        return [str(process.pid)]


def _submission(role: str, released: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """What each student writes into the notebook they fetched."""
    if role == "honest":
        return solved(released)
    if role == "empty":
        return released
    # exercise C answered wrong, and a cell that snoops on the class and rewrites C's check to pass
    return hostile.attack("""
        import glob, os
        for path in glob.glob("/home/*") + glob.glob("/tmp/*") + glob.glob("/tmp/*/home/*"):
            try:
                print(path, os.listdir(path))
            except Exception:
                pass
        try:
            import mi_helpers.checks.nb00 as checks
            checks.check_@SLUG@ = lambda *args, **kwargs: print("@PASS@")
            check_@SLUG@ = checks.check_@SLUG@
        except Exception:
            pass
        """, slug=C.slug)


def test_a_class_takes_notebook_00_on_jupyterhub(tmp_path):
    started = time.monotonic()
    base = Path(tempfile.mkdtemp(prefix="mi-hub-", dir="/tmp"))  # tmp_path is private to root
    os.chmod(base, 0o755)
    klass = Class(base)
    hub = None
    python = [Path(sys.prefix), Path(sys.base_prefix), Path(sys.executable).resolve(), ROOT]
    with _reachable_by_all(*python):
        try:
            klass.create()
            hub = Hub(klass, base / "hub")
            hub.until("the hub's API", lambda: hub.api("GET", "/hub/api/").status_code == 200)
            students = klass.students

            # the servers, spawned through the REST API
            for user in students.values():
                reply = hub.api("POST", f"/hub/api/users/{user}/server")
                if reply.status_code not in (201, 202):
                    hub.fail(f"spawning {user}: {reply.status_code} {reply.text}")
            for user in students.values():
                hub.until(f"{user}'s server", lambda u=user: hub.api("GET", f"/hub/api/users/{u}").json()
                          ["servers"].get("", {}).get("ready"))
            hub.until("the formgrader service", lambda: hub.api(
                "GET", f"/services/{COURSE}/formgrader/api/status",
                hub.user_token(klass.instructor)).status_code == 200)
            groups = hub.api("GET", f"/hub/api/groups/formgrade-{COURSE}").json()
            assert groups["users"] == [klass.instructor]

            # the instructor generates and releases the assignment
            hub.formgrader("POST", f"/assignment/{ASSIGNMENT}/assign")
            hub.formgrader("POST", f"/assignment/{ASSIGNMENT}/release")

            # each student fetches it, writes their answers and submits, through their own server
            notebook = f"/api/contents/{ASSIGNMENT}/{ASSIGNMENT}.ipynb"
            for role, user in students.items():
                listed = hub.as_user(user, "POST", "/assignments/fetch",
                                     json={"course_id": COURSE, "assignment_id": ASSIGNMENT}).json()
                assert listed["success"] and any(a["assignment_id"] == ASSIGNMENT and a["status"] == "fetched"
                                                 for a in listed["value"]), listed
                released = nbformat.from_dict(hub.as_user(user, "GET", notebook).json()["content"])
                hub.as_user(user, "PUT", notebook, json={"type": "notebook", "format": "json",
                                                         "content": _submission(role, released)})
                reply = hub.as_user(user, "POST", "/assignments/submit",
                                    json={"course_id": COURSE, "assignment_id": ASSIGNMENT}).json()
                assert reply["success"], reply

            # what a student can reach once everyone has submitted
            inbound = klass.exchange / COURSE / "inbound"
            outbound = klass.exchange / COURSE / "outbound" / ASSIGNMENT
            honest, empty, cheat = students["honest"], students["empty"], students["hostile"]
            source = klass.course_dir / "classroom" / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
            seen = klass.snoop(cheat, inbound, source, klass.home(honest), klass.home(honest) / ASSIGNMENT,
                               klass.course_dir, outbound, klass.home(cheat) / ASSIGNMENT)
            assert seen[str(inbound)] == "PermissionError", "a student listed the class's submissions"
            assert seen[str(source)] == "PermissionError", "a student read the instructor's source"
            assert seen[str(klass.home(honest))] == "PermissionError", "a student listed a classmate's home"
            assert seen[str(klass.home(honest) / ASSIGNMENT)] == "PermissionError"
            assert seen[str(klass.course_dir)] == "PermissionError"
            assert f"{ASSIGNMENT}.ipynb" in seen[str(outbound)], "the control: students read what was released"
            assert f"{ASSIGNMENT}.ipynb" in seen[str(klass.home(cheat) / ASSIGNMENT)], "the control: their own work"
            outside = klass.snoop(klass.outsider, outbound)
            assert outside[str(outbound)] == "PermissionError", "someone outside the course group reached the exchange"

            # the instructor collects, autogrades, and hands back feedback
            hub.formgrader("POST", f"/assignment/{ASSIGNMENT}/collect")
            submitted = klass.course_dir / "classroom" / "submitted"
            assert klass.snoop(klass.instructor, submitted)[str(submitted)] == sorted(students.values())
            seen = klass.snoop(cheat, submitted / honest / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
            assert list(seen.values()) == ["PermissionError"], "a student read a classmate's collected submission"
            for user in students.values():
                hub.formgrader("POST", f"/submission/{ASSIGNMENT}/{user}/autograde")
            hub.formgrader("POST", f"/assignment/{ASSIGNMENT}/generate_feedback")
            hub.formgrader("POST", f"/assignment/{ASSIGNMENT}/release_feedback")
            scored = {s["student"]: s["score"] for s in hub.formgrader("GET", f"/submissions/{ASSIGNMENT}")}

            # the students fetch their feedback through their servers
            feedback = {}
            for role, user in students.items():
                hub.as_user(user, "POST", "/assignments/fetch_feedback",
                            json={"course_id": COURSE, "assignment_id": ASSIGNMENT})
                folder = hub.as_user(user, "GET", f"/api/contents/{ASSIGNMENT}/feedback").json()["content"]
                assert len(folder) == 1, folder
                page = hub.as_user(user, "GET", f"/api/contents/{folder[0]['path']}/{ASSIGNMENT}.html").json()
                feedback[role] = float(re.search(r"Score: ([0-9.]+) / ", page["content"]).group(1))

            # the gradebook, exported by the instructor
            csv_path = klass.course_dir / "grades.csv"
            klass.as_user(klass.instructor, str(BIN / "nbgrader"), "export", f"--to={csv_path}",
                          cwd=klass.course_dir, env={**hub.env, "HOME": str(klass.home(klass.instructor)),
                                                     "JUPYTER_CONFIG_PATH": str(ROOT / "deploy" / "jupyter")})
            rows = {r["student_id"]: r for r in csv.DictReader(csv_path.open())}
            points = {role: float(rows[user]["raw_score"]) for role, user in students.items()}
            print(f"\nhub: points per student {points} (of {FULL_POINTS} autograded), "
                  f"formgrader scores {scored}, feedback {feedback}, {time.monotonic() - started:.1f} s")
            assert points == EXPECTED
            assert feedback == EXPECTED, "the feedback a student fetched gives another score"
            assert {role: scored[user] for role, user in students.items()} == EXPECTED
            assert {rows[user]["assignment"] for user in students.values()} == {ASSIGNMENT}
        finally:
            leftover = hub.stop() if hub else []
            klass.remove()
            shutil.rmtree(base, ignore_errors=True)
        assert not leftover, f"still running after the hub stopped: {leftover}"
