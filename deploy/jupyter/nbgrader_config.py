"""nbgrader's settings for everyone on the hub (deploy/jupyterhub_config.py puts this folder on
JUPYTER_CONFIG_PATH): which course the assignment list shows, and where the exchange is."""
import os

c = get_config()  # noqa: F821 (nbgrader provides it)

c.CourseDirectory.course_id = os.environ.get("MI_COURSE_ID", "hands-on-mi")
c.Exchange.root = os.environ.get("MI_EXCHANGE", "/srv/nbgrader/exchange")
