"""Small trained models shipped inside the package, each with its sha256 and the command that rebuilds it.

Nothing in the course downloads weights. A model that takes more than a moment to train, or that a check
needs as well as the notebook, is trained once by a ``--reproduce`` command, saved under
``mi_helpers/checkpoints/`` with a ``.sha256`` file beside it (the line ``sha256sum`` writes), and loaded
only after its bytes are checked against that sha256.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import torch

CHECKPOINT_DIR = Path(__file__).resolve().parent / "checkpoints"


class ChecksumError(RuntimeError):
    """A checkpoint's bytes differ from the sha256 that the course shipped with it."""


def sha256_of(path) -> str:
    """The sha256 of a file's bytes, in hex."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def load_verified(path, sha256_file, rebuild: str, verify: bool = True) -> dict:
    """``torch.load`` (weights only) of ``path``, after checking its sha256 against ``sha256_file``.

    ``rebuild`` is the command that writes the file again, named in the :class:`ChecksumError`.
    """
    path, sha256_file = Path(path), Path(sha256_file)
    if verify:
        expected = sha256_file.read_text(encoding="utf-8").split()[0]
        found = sha256_of(path)
        if found != expected:
            raise ChecksumError(
                f"the checkpoint {path} is not the one the course shipped: its sha256 is {found}, "
                f"expected {expected} (from {sha256_file.name}). The file is damaged or was changed: "
                f"reinstall the course, or rebuild it with `{rebuild}`.")
    return torch.load(path, map_location="cpu", weights_only=True)


def save_with_sha256(obj: dict, path, sha256_file=None) -> str:
    """``torch.save`` ``obj`` to ``path`` and, if ``sha256_file`` is given, write the file's sha256 there."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(obj, path)
    digest = sha256_of(path)
    if sha256_file is not None:
        Path(sha256_file).write_text(f"{digest}  {path.name}\n", encoding="utf-8")
    return digest
