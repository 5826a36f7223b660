"""Write a file whole or not at all: reports, results, the pid file, a repaired installed module."""

from __future__ import annotations

import os
import threading
from pathlib import Path


def write_text(path: Path, text: str, *, mode: int = 0o666) -> None:
    """Create the folder, write beside the target, flush to disk, then rename: a CI job that reads the report
    while the run is being written, `invoke stop` reading the pid file, or anyone after a full disk or a crash,
    never sees half a file. The temporary name is this process's and thread's own, so two writers never
    share one. `mode` is open()'s (the umask applies): 0o600 keeps a file to its owner. Raises OSError, left
    to the caller."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.partial")
    try:
        handle = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
