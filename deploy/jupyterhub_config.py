"""JupyterHub for a class taking this course, on one machine: ``jupyterhub -f deploy/jupyterhub_config.py``.

What it sets up (deploy/README.md walks through it):

- **Who may log in**: the members of one Unix group, the *course group* (``MI_COURSE_GROUP``,
  default ``hands-on-mi``), checked through PAM with their Unix passwords. ``MI_HUB_AUTH=dummy``
  swaps PAM for JupyterHub's dummy authenticator with one shared password (``MI_HUB_PASSWORD``):
  for trying the hub out on a laptop, never for a class.
- **Each learner's server** runs as that learner's Unix user (JupyterHub's local-process
  spawner), on the course's Python environment, opened as ``make lab`` opens it: the assignment
  list and Validate, without nbgrader's instructor tools.
- **nbgrader's exchange**: assignments, submissions and feedback travel through one folder
  (``MI_EXCHANGE``) that nbgrader keeps world-writable; put it inside a folder only the course
  group can enter, so nobody else on the machine reaches it.
- **The formgrader as a hub service**: one Jupyter server running as the instructor
  (``MI_INSTRUCTOR``) in the course directory (``MI_COURSE_DIR``, a clone of this repository with
  ``make classroom`` run in it), at ``/services/hands-on-mi/``. Only the hub group
  ``formgrade-hands-on-mi`` (the instructor and any ``MI_GRADERS``) may open it. The learners
  are put in the hub group ``nbgrader-hands-on-mi``, the names nbgrader's JupyterHub
  integration gives a course's students and graders.

Everything is read from the environment so that one file serves a class and the test that
runs it (tests/test_hub.py); a test or a site adds its own settings in a file that
``load_subconfig``\\ s this one.
"""
import grp
import os
import pwd
import sys
from pathlib import Path

c = get_config()  # noqa: F821 (JupyterHub provides it)

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent  # the course's environment: the hub runs from it, so do the servers

COURSE = os.environ.get("MI_COURSE_ID", "hands-on-mi")
GROUP = os.environ.get("MI_COURSE_GROUP", "hands-on-mi")
INSTRUCTOR = os.environ.get("MI_INSTRUCTOR", "instructor")
GRADERS = {INSTRUCTOR} | {g for g in os.environ.get("MI_GRADERS", "").split(",") if g}
COURSE_DIR = os.environ.get("MI_COURSE_DIR") or str(Path(pwd.getpwnam(INSTRUCTOR).pw_dir) / COURSE)
EXCHANGE = os.environ.get("MI_EXCHANGE", "/srv/nbgrader/exchange")
SERVICE_PORT = int(os.environ.get("MI_SERVICE_PORT", "9999"))

# ---------------------------------------------------------------- who may log in
if os.environ.get("MI_HUB_AUTH", "pam") == "dummy":
    if not os.environ.get("MI_HUB_PASSWORD"):
        sys.exit("MI_HUB_AUTH=dummy needs MI_HUB_PASSWORD: the one password every account logs in with")
    c.JupyterHub.authenticator_class = "dummy"
    c.DummyAuthenticator.password = os.environ["MI_HUB_PASSWORD"]
    # the dummy authenticator knows no groups: the course group's members as the hub starts
    c.Authenticator.allowed_users = set(grp.getgrnam(GROUP).gr_mem) | GRADERS
else:
    c.JupyterHub.authenticator_class = "pam"
    c.PAMAuthenticator.allowed_groups = {GROUP}  # read at each login: add a student with usermod -aG
    c.Authenticator.allowed_users = set(GRADERS)

students = sorted(set(grp.getgrnam(GROUP).gr_mem) - GRADERS)
c.JupyterHub.load_groups = {
    f"formgrade-{COURSE}": {"users": sorted(GRADERS)},
    f"nbgrader-{COURSE}": {"users": students},
}

# ---------------------------------------------------------------- the learners' servers
c.JupyterHub.bind_url = os.environ.get("MI_HUB_URL", "http://127.0.0.1:8000")
c.JupyterHub.spawner_class = "localprocess"
# The proxy (configurable-http-proxy: from npm, or its Python port from PyPI, installed with the
# course's test extras). The Python port drops a request after 20 s: autograding one submission
# through the formgrader takes longer, so give requests ten minutes.
c.ConfigurableHTTPProxy.command = [os.environ.get("MI_PROXY", str(BIN / "configurable-http-proxy")),
                                   "--timeout=600000", "--proxy-timeout=600000"]
c.Spawner.cmd = [str(BIN / "jupyterhub-singleuser")]
c.Spawner.default_url = "/lab"
nbgrader_env = {
    "PATH": f"{BIN}:/usr/local/bin:/usr/bin:/bin",
    "MI_COURSE_ID": COURSE,
    "MI_EXCHANGE": EXCHANGE,
}
c.Spawner.environment = {
    **nbgrader_env,
    # etc/learner switches off nbgrader's instructor tools (as in make lab); deploy/jupyter says
    # which course and where its exchange is
    "JUPYTER_CONFIG_PATH": f"{REPO / 'etc' / 'learner'}:{REPO / 'deploy' / 'jupyter'}",
}
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 60

# ---------------------------------------------------------------- the formgrader, for graders only
c.JupyterHub.services = [{
    "name": COURSE,
    "url": f"http://127.0.0.1:{SERVICE_PORT}",
    "command": [str(BIN / "jupyterhub-singleuser"), f"--ServerApp.root_dir={COURSE_DIR}",
                "--ServerApp.default_url=/formgrader"],
    "user": INSTRUCTOR,
    "cwd": COURSE_DIR,
    "environment": {**nbgrader_env, "JUPYTER_CONFIG_PATH": str(REPO / "deploy" / "jupyter")},
    "oauth_no_confirm": True,
}]
c.JupyterHub.load_roles = [
    {"name": f"formgrade-{COURSE}", "groups": [f"formgrade-{COURSE}"],
     "scopes": [f"access:services!service={COURSE}"]},
]
