"""Receiving an upload: streamed to disk under a generated name, size-capped as it arrives.

The client's file name is kept only as sanitised metadata (SECURITY.md P17): the bytes
go to ``<data>/exhibits/<tenant>/<project>/<uuid>`` and the size limit is enforced
on the bytes received, not on any declared length (P16), so an oversize upload is
refused after at most ``limit + one piece`` bytes and its partial file removed.
"""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata
import uuid
from collections.abc import AsyncIterable, Iterable
from dataclasses import dataclass
from pathlib import Path

from jeex.errors import EmptyUpload, PayloadTooLarge

MAX_NAME_CHARS = 200
_UNSAFE = re.compile(r"[\x00-\x1f\x7f<>:\"|?*]")


def sanitize_filename(name: str) -> str:
    """A display name without folders, control or bidi characters, at most 200 characters."""
    name = unicodedata.normalize("NFC", name).replace("\\", "/").split("/")[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co"))
    name = _UNSAFE.sub("_", name)
    name = " ".join(name.split()).strip(" .")
    if len(name) > MAX_NAME_CHARS:
        stem, dot, suffix = name.rpartition(".")
        if dot and 0 < len(suffix) <= 10:
            name = stem[: MAX_NAME_CHARS - len(suffix) - 1].rstrip() + "." + suffix
        else:
            name = name[:MAX_NAME_CHARS]
    return name or "exhibit"


@dataclass(frozen=True)
class Received:
    """An upload on disk, not yet an exhibit."""

    path: Path
    size: int
    sha256: str

    def discard(self) -> None:
        self.path.unlink(missing_ok=True)


def inside(root: Path, path: Path) -> bool:
    root, path = root.resolve(), path.resolve()
    return os.path.commonpath([root, path]) == str(root)


def stored_path(root: Path, tenant_id: uuid.UUID, project_id: uuid.UUID) -> Path:
    """A new generated location for one exhibit's bytes."""
    path = root / str(tenant_id) / str(project_id) / uuid.uuid4().hex
    if not inside(root, path):  # pragma: no cover - uuids cannot escape; kept as the rule
        raise ValueError("exhibit path escapes the exhibits folder")
    return path


class _Writer:
    def __init__(self, target: Path, limit: int) -> None:
        self.target, self.limit = target, limit
        self.size = 0
        self.digest = hashlib.sha256()
        target.parent.mkdir(parents=True, exist_ok=True)
        self.handle = target.open("xb")

    def write(self, piece: bytes) -> None:
        self.size += len(piece)
        if self.size > self.limit:
            raise PayloadTooLarge(f"the file is larger than the limit of {self.limit} bytes")
        self.digest.update(piece)
        self.handle.write(piece)

    def close(self, *, failed: bool) -> Received:
        self.handle.close()
        if failed:
            self.target.unlink(missing_ok=True)
        elif self.size == 0:
            self.target.unlink(missing_ok=True)
            raise EmptyUpload("the file is empty")
        return Received(self.target, self.size, self.digest.hexdigest())


def receive(pieces: Iterable[bytes], target: Path, *, limit: int) -> Received:
    """Write ``pieces`` to ``target``; over ``limit`` bytes → `PayloadTooLarge`, nothing kept."""
    writer = _Writer(target, limit)
    try:
        for piece in pieces:
            writer.write(piece)
    except BaseException:
        writer.close(failed=True)
        raise
    return writer.close(failed=False)


async def receive_async(pieces: AsyncIterable[bytes], target: Path, *, limit: int) -> Received:
    """`receive` for an HTTP body read piece by piece."""
    writer = _Writer(target, limit)
    try:
        async for piece in pieces:
            writer.write(piece)
    except BaseException:
        writer.close(failed=True)
        raise
    return writer.close(failed=False)


def read_pieces(path: Path, size: int = 1 << 16) -> Iterable[bytes]:
    """A local file in pieces (the CLI's upload stream)."""
    with path.open("rb") as handle:
        while piece := handle.read(size):
            yield piece
