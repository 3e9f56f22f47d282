"""mi_helpers: the helper package of the hands-on mechanistic interpretability course.

One module per concern, each short enough to read in a sitting:

- ``checks``: the grading core and one module of checks per notebook
- ``utils``: seeding and devices
- ``plot``: the figures the notebooks share
- ``grading``: executing a learner's notebook under limits and scoring it (``mi-grade``)
"""
__version__ = "0.1.0"
