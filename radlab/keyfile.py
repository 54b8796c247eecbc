"""Secret keys kept in RADLAB_HOME on one machine: made once, never seen half-written."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def created_once(path: Path, make: Callable[[], str]) -> str:
    """The key in `path`; if no process has made it yet, `make()` is written aside (0600) and linked into
    place whole, so concurrent first users all end up with the same complete key."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, draft = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mkstemp creates it 0600
        try:
            with os.fdopen(fd, "w") as out:
                out.write(make())
                out.flush()
                os.fsync(out.fileno())
            try:
                os.link(draft, path)
            except FileExistsError:
                pass  # another process won; use its key
        finally:
            os.unlink(draft)
    return path.read_text().strip()
