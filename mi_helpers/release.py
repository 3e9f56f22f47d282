"""The release: ``notebooks/`` made from ``solutions/`` by nbgrader's ``generate_assignment``.

    python -m mi_helpers.release              # regenerate notebooks/ (make release)
    python -m mi_helpers.release --check      # fail if notebooks/ is out of date
    python -m mi_helpers.release --classroom  # only link classroom/source for nbgrader

Each solution notebook becomes one nbgrader assignment named after it (see
``nbgrader_config.py``). nbgrader clears solutions and hidden tests, locks the
test cells and records checksums; ``StripMentorNotes`` first drops the
mentor's cells. A learner's edited notebook is backed up before it is replaced.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .classroom import StripMentorNotes  # noqa: F401 (nbgrader_config.py names it here)

ROOT = Path(__file__).resolve().parents[1]


def nbgrader_env() -> dict[str, str]:
    """The environment for running nbgrader from this Python: its bin folder on PATH,
    where nbgrader looks for the `alembic` command; ROOT is where nbgrader_config.py is."""
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    return env


def link_classroom(root: Path = ROOT, classroom: Path | None = None) -> list[str]:
    """Lay out ``classroom/source/NAME/NAME.ipynb`` as links to ``solutions/NAME.ipynb``."""
    classroom = classroom or root / "classroom"
    names = []
    for solution in sorted((root / "solutions").glob("*.ipynb")):
        folder = classroom / "source" / solution.stem
        folder.mkdir(parents=True, exist_ok=True)
        link = folder / solution.name
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(solution.resolve())
        names.append(solution.stem)
    return names


def generate(root: Path = ROOT, out: Path | None = None, quiet: bool = True) -> dict[str, Path]:
    """Run nbgrader on every solution in a scratch classroom; the release notebooks by name."""
    scratch = Path(tempfile.mkdtemp(prefix="mi-release-"))
    names = link_classroom(root, scratch)
    out = out or scratch / "out"
    out.mkdir(parents=True, exist_ok=True)
    made = {}
    for name in names:
        cmd = [sys.executable, "-m", "nbgrader", "generate_assignment", name, "--force",
               f"--CourseDirectory.root={scratch}", f"--CourseDirectory.db_url=sqlite:///{scratch}/gb.db"]
        if quiet:
            cmd.append("--log-level=WARN")
        done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=nbgrader_env())
        produced = scratch / "release" / name / f"{name}.ipynb"
        if done.returncode != 0 or not produced.exists():
            raise RuntimeError(f"nbgrader could not release {name}:\n{done.stdout}\n{done.stderr}")
        target = out / f"{name}.ipynb"
        shutil.copy(produced, target)
        made[name] = target
    return made


def _committed(root: Path, path: Path) -> bytes | None:
    """The last committed version of ``path``; None outside git or when never committed."""
    rel = path.relative_to(root).as_posix()
    done = subprocess.run(["git", "show", f"HEAD:{rel}"], cwd=root, capture_output=True)
    return done.stdout if done.returncode == 0 else None


def release(root: Path = ROOT) -> list[str]:
    """Regenerate ``notebooks/``. A notebook a learner changed is copied to ``backups/`` first."""
    made = generate(root)
    messages = []
    target_dir = root / "notebooks"
    target_dir.mkdir(exist_ok=True)
    for name, fresh in made.items():
        target = target_dir / fresh.name
        new = fresh.read_bytes()
        if target.exists():
            old = target.read_bytes()
            if old != new and old != _committed(root, target):
                backup = root / "backups" / f"{name}.{time.strftime('%Y%m%d-%H%M%S')}.ipynb"
                backup.parent.mkdir(exist_ok=True)
                shutil.copy(target, backup)
                messages.append(f"your changes to {target.relative_to(root)} were saved to "
                                f"{backup.relative_to(root)}")
        target.write_bytes(new)
        messages.append(f"released {target.relative_to(root)}")
    return messages


def stale(root: Path = ROOT) -> list[str]:
    """The release notebooks that differ from what nbgrader makes of the solutions now."""
    made = generate(root)
    out = [f"notebooks/{p.name}" for p in made.values()
           if not (root / "notebooks" / p.name).exists()
           or (root / "notebooks" / p.name).read_bytes() != p.read_bytes()]
    extra = {p.stem for p in (root / "notebooks").glob("*.ipynb")} - set(made)
    return out + [f"notebooks/{name}.ipynb (no solution)" for name in sorted(extra)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only say whether notebooks/ is current")
    parser.add_argument("--classroom", action="store_true",
                        help="only link classroom/source to solutions/ for nbgrader")
    args = parser.parse_args(argv)
    if args.classroom:
        for name in link_classroom():
            print(f"classroom/source/{name}/{name}.ipynb -> solutions/{name}.ipynb")
        return 0
    if args.check:
        out_of_date = stale()
        for name in out_of_date:
            print(f"out of date: {name} (run `make release`)")
        return 1 if out_of_date else 0
    for message in release():
        print(message)
    return 0


if __name__ == "__main__":
    sys.exit(main())
