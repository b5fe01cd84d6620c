"""Export files: generated names, atomic writes, no path leaves the exports folder."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from jeex.exports import storage


def test_write_read_delete(tmp_path: Path) -> None:
    tenant, export = uuid.uuid4(), uuid.uuid4()
    relative = storage.relative_path(tenant, export, "pdf")
    assert relative == f"exports/{tenant}/{export}.pdf"
    target = storage.write(tmp_path, relative, b"%PDF-1.7")
    assert target.read_bytes() == b"%PDF-1.7"
    assert [p.name for p in target.parent.iterdir()] == [f"{export}.pdf"]  # no temp file left
    assert storage.delete(tmp_path, relative) is True
    assert storage.delete(tmp_path, relative) is False


@pytest.mark.parametrize(
    "relative", ["exports/../secret", "../exports/x", "/etc/passwd", "exports", "other/x.zip"]
)
def test_paths_outside_the_exports_folder_are_refused(tmp_path: Path, relative: str) -> None:
    with pytest.raises(ValueError, match="outside"):
        storage.absolute(tmp_path, relative)
    with pytest.raises(ValueError, match="outside"):
        storage.write(tmp_path, relative, b"x")


def test_a_failed_write_leaves_no_temp_file(tmp_path: Path) -> None:
    relative = storage.relative_path(uuid.uuid4(), uuid.uuid4(), "zip")
    target = storage.absolute(tmp_path, relative)
    target.mkdir(parents=True)  # a folder squatting on the name: replace fails
    with pytest.raises(IsADirectoryError):
        storage.write(tmp_path, relative, b"x")
    assert [p.name for p in target.parent.iterdir()] == [target.name]
