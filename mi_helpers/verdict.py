"""The trusted verdict: the course's own test cell, run in the grader's process, against the learner's kernel.

A test cell (``from mi_helpers.checks.nbNN import check_slug; check_slug(slug)``
and its hidden tests) is executed here, in the grader, never in the learner's
kernel. Its names come from two places: the course's setup cell, run here as
well (``torch``, ``F``, ``train`` ... are the grader's own), and, for every other
name (the learner's ``slug``), the learner's notebook, as a
:class:`~mi_helpers.remote.Remote` that runs in the kernel when called. So the
check, the comparison and the verdict cannot be touched by the learner's code;
the learner's code only computes the values being checked.
"""
from __future__ import annotations

import ast
import builtins
import contextlib
import io
import os
import re
import traceback
from dataclasses import dataclass

from .checks import Exercise, ExerciseFailed
from .remote import KernelChannel, KernelDied, ProtocolError, RemoteError, RemoteTimeout

PASSED, FAILED, NOT_ATTEMPTED = "passed", "failed", "not attempted"


@dataclass
class Verdict:
    verdict: str
    message: str


def free_names(source: str) -> list[str]:
    """Names a cell reads but does not bind itself, builtins excluded."""
    tree = ast.parse(source)
    bound, loaded = set(), []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            if isinstance(node.ctx, ast.Load):
                loaded.append(node.id)
            else:
                bound.add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
    return sorted({n for n in loaded if n not in bound and not hasattr(builtins, n)})


def prelude(setup: str) -> dict:
    """The grader's namespace for test cells: the course's setup cell, executed here."""
    namespace: dict = {"__name__": "__grader__"}
    source = "\n".join(line for line in setup.splitlines() if not line.lstrip().startswith(("%", "!")))
    with contextlib.redirect_stdout(io.StringIO()):
        exec(compile(source, "<course setup cell>", "exec"), namespace)
    return namespace


def _missing_name(exc: NameError) -> str | None:
    found = re.search(r"name '(\w+)' is not defined", str(exc))
    return found.group(1) if found else None


def run_check(ex: Exercise, source: str, namespace: dict, channel: KernelChannel) -> Verdict:
    """Execute the course's test cell ``source`` for ``ex`` here; the learner's names live in the kernel.

    ChannelError (the kernel died or did not answer in time) is left to the caller,
    which knows how to restart a kernel.
    """
    title = ex.title
    wanted = [n for n in free_names(source) if n not in namespace]
    printed = io.StringIO()
    try:
        channel.begin()
        scope = dict(namespace)
        scope.update(channel.names(wanted))
        with contextlib.redirect_stdout(printed):
            exec(compile(source, f"<test cell of {title}>", "exec"), scope)
    except (KernelDied, RemoteTimeout):
        raise
    except ProtocolError as exc:
        return Verdict(FAILED, f"✘ {title}: the grader could not run your code in your notebook's kernel "
                               f"({exc}). Did a cell change how the kernel runs code?")
    except ExerciseFailed as failure:
        verdict = NOT_ATTEMPTED if "not attempted yet" in failure.problem else FAILED
        return Verdict(verdict, failure.message)
    except NotImplementedError:
        return Verdict(NOT_ATTEMPTED, f"✘ {title}: not attempted yet: your `{ex.slug}` still raises "
                                      "NotImplementedError.")
    except NameError as exc:
        name = _missing_name(exc) or "a name"
        return Verdict(FAILED, f"✘ `{name}` is not defined when the check runs: keep the exercise's answer "
                               "cell, with its name unchanged, and run it.")
    except RemoteError as exc:
        return Verdict(FAILED, f"✘ {title}: your code raised {exc.remote_type} during the hidden tests: "
                               f"{str(exc)[:500]}")
    except AssertionError:
        return Verdict(FAILED, f"✘ {title}: a hidden test failed: the answer passes the visible check "
                               "but is wrong on another case.")
    except Exception as exc:  # an answer whose values the check could not even handle
        if os.environ.get("MI_GRADER_DEBUG"):  # for course authors: where the check itself stopped
            traceback.print_exc()
        return Verdict(FAILED, f"✘ {title}: the check stopped with {type(exc).__name__}: {str(exc)[:500]}")
    finally:
        with contextlib.suppress(KernelDied, RemoteTimeout, ProtocolError):
            channel.end()
    lines = printed.getvalue().strip().splitlines()
    return Verdict(PASSED, lines[-1] if lines else f"✔ {title} passed")
