"""Export files on disk: ``<data_dir>/exports/<tenant_id>/<export_id>.<ext>``.

Names are generated from ids, never from user text, and the row stores the path
relative to the data folder, so moving the data folder moves the exports with it.
Writes are atomic (temporary file, then rename): a reader never sees half a file.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from pathlib import Path

EXPORTS_FOLDER = "exports"


def relative_path(tenant_id: uuid.UUID, export_id: uuid.UUID, extension: str) -> str:
    return f"{EXPORTS_FOLDER}/{tenant_id}/{export_id}.{extension}"


def absolute(data_dir: Path, relative: str) -> Path:
    """The file of a stored path; refuses anything that would leave the exports folder."""
    root = (data_dir / EXPORTS_FOLDER).resolve()
    target = (data_dir / relative).resolve()
    if root not in target.parents:
        raise ValueError(f"export path outside {root}: {relative!r}")
    return target


def write(data_dir: Path, relative: str, data: bytes) -> Path:
    target = absolute(data_dir, relative)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix=".", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return target


def delete(data_dir: Path, relative: str) -> bool:
    """True when a file was removed; a missing file is not an error (cleanup may repeat)."""
    try:
        absolute(data_dir, relative).unlink()
    except FileNotFoundError:
        return False
    return True
