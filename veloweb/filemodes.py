"""Runtime data stays private to the account running Veloweb: the data dir 0700, the files that
hold secrets (the SQLite database, the generated secret key, the admin password) 0600.

They are created with those modes (never readable by others, even for a moment) and tightened on
every start, so an install made before keeps no world-readable database. Only bits are removed:
a stricter mode chosen by the admin stays.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


def tighten(path: Path, mode: int) -> None:
    """Clear the permission bits of `path` beyond `mode`; a missing path is left alone."""
    try:
        current = path.stat().st_mode & 0o777
    except FileNotFoundError:
        return
    if current & ~mode:
        try:
            path.chmod(current & mode)
        except OSError as error:  # not ours (a shared mount): say so, do not stop the start
            warnings.warn(f"cannot make {path} private (mode {mode:o}): {error}", stacklevel=2)


def private_dir(path: Path) -> Path:
    """`path` created (with its parents) and made 0700."""
    path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    tighten(path, PRIVATE_DIR)
    return path


def private_file(path: Path) -> Path:
    """`path` created empty if missing (an empty file is a valid new SQLite database), made 0600."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE))
    except FileExistsError:
        pass
    tighten(path, PRIVATE_FILE)
    return path


def write_private(path: Path, text: str, exclusive: bool = False) -> None:
    """Write `text` to `path`, created 0600 (an existing file is tightened first); with
    `exclusive`, fail with FileExistsError if it exists."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | (os.O_EXCL if exclusive else 0)
    tighten(path, PRIVATE_FILE)
    with os.fdopen(os.open(path, flags, PRIVATE_FILE), "w", encoding="utf-8") as f:
        f.write(text)
