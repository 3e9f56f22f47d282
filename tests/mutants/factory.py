"""What the mutant modules share. A mutant module also runs as one cell in a sandboxed kernel
(tests/test_checks_through_sandbox.py), which cannot import this package: there, its
``from mutants.factory import named`` line is replaced by this module's source."""
import sys


def named(prefix: str, fn, mistake: str):
    """A mutant made by a factory gets a name of its own, bound in the module that made it: the sandbox
    tests look a mutant up by its name in the kernel, where the solution's function holds the plain name."""
    fn.__name__ = fn.__qualname__ = f"{prefix}_{mistake}"
    setattr(sys.modules[fn.__module__], fn.__name__, fn)
    return fn
