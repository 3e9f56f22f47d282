"""`make lab` opens the course for learners: nbgrader's instructor tools are switched off, the learner's kept."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request

from conftest import ROOT, free_ports

LEARNER = ROOT / "etc" / "learner"
INSTRUCTOR_ONLY = {"@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:create-assignment",
                   "@jupyter/nbgrader:course-list", "@jupyter/nbgrader:menu"}
LEARNER_TOOLS = {"@jupyter/nbgrader:assignment-list", "@jupyter/nbgrader:validate-assignment"}


def test_make_lab_puts_the_learner_config_first():
    recipe = subprocess.run(["make", "-n", "lab"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert f"JUPYTER_CONFIG_PATH={LEARNER}" in recipe
    instructor = subprocess.run(["make", "-n", "lab-instructor"], cwd=ROOT, capture_output=True, text=True,
                                check=True).stdout
    assert "etc/learner" not in instructor


def _in_learner_lab(code: str) -> str:
    env = {**os.environ, "JUPYTER_CONFIG_PATH": str(LEARNER)}
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout


def test_the_learner_lab_hides_the_instructor_tools_and_keeps_the_learners():
    disabled = json.loads(_in_learner_lab(
        "import json, sys; from jupyterlab_server.config import get_page_config; "
        "print(json.dumps(get_page_config([sys.prefix + '/share/jupyter/labextensions']).get('disabledExtensions')))"))
    disabled = set(disabled if isinstance(disabled, list) else [k for k, v in disabled.items() if v])
    assert INSTRUCTOR_ONLY <= disabled
    assert not LEARNER_TOOLS & disabled


def _status_of_formgrader(learner: bool) -> int:
    """Start a Jupyter server the way `make lab` (or `make lab-instructor`) does and ask for the formgrader."""
    (port,) = free_ports(1)
    env = {**os.environ, **({"JUPYTER_CONFIG_PATH": str(LEARNER)} if learner else {})}
    server = subprocess.Popen([sys.executable, "-m", "jupyter_server", "--no-browser", f"--port={port}",
                               "--ServerApp.token=t", "--allow-root", f"--ServerApp.root_dir={ROOT}"],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            request = urllib.request.Request(f"http://127.0.0.1:{port}/formgrader?token=t")
            try:
                with urllib.request.build_opener(_NoRedirect).open(request, timeout=5) as reply:
                    return reply.status
            except urllib.error.HTTPError as error:
                return error.code
            except (urllib.error.URLError, ConnectionError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
    finally:
        server.terminate()
        server.wait(timeout=30)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # the status itself, not the login page it leads to
        return None


def test_the_learner_lab_does_not_serve_the_formgrader():
    assert _status_of_formgrader(learner=True) == 404
    assert _status_of_formgrader(learner=False) != 404  # the instructor's lab does
