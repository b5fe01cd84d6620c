"""``jeex export``: render one export in this process and write its file.

The export is recorded like one requested over HTTP (a row with status, manifest and
expiry), but rendered here rather than by a worker, so it works on the embedded shape
with nothing else running.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from jeex.cli_support import (
    check_writable_dir,
    guarded,
    print_json,
    stdout,
    with_database,
)
from jeex.config import Settings
from jeex.db.session import Database
from jeex.errors import InvalidInput
from jeex.exports import service as exports_service
from jeex.exports.formats import FORMATS, get_format
from jeex.projects import service as projects_service
from jeex.tenants.service import ensure_local_principal


def parse_versions(values: Sequence[str]) -> dict[str, int]:
    """``about@2`` or ``epic-3@1`` → ``{"about": 2, "epic-3": 1}``."""
    versions: dict[str, int] = {}
    for value in values:
        name, _, number = value.partition("@")
        if not name.strip() or not number.isdigit() or int(number) < 1:
            raise InvalidInput(f"--use {value!r}: write a document and a version, e.g. about@2")
        versions[name.strip()] = int(number)
    return versions


def check_format(name: str) -> str:
    found = get_format(name)
    if found is None:
        raise InvalidInput(f"unknown format {name!r}; use one of: {', '.join(FORMATS)}")
    return found.name


def _target(out: Path | None, filename: str) -> Path:
    """``--out`` may name the file or an existing folder; default: the current folder."""
    if out is None:
        return Path.cwd() / filename
    out = out.expanduser().absolute()
    return out / filename if out.is_dir() else out


async def _export(
    db: Database, settings: Settings, project: str, export_format: str, versions: dict[str, int]
) -> tuple[dict[str, Any], Path]:
    principal = await ensure_local_principal(db)
    async with db.tenant_session(principal.tenant_id) as session:
        found = await projects_service.resolve_or_raise(session, ref=project)
        export = await exports_service.create(
            session,
            project_id=found.id,
            format=export_format,
            versions=versions or None,
            expires_in_hours=settings.export_expires_hours,
            created_by=principal.user_id,
            enqueue=False,
        )
        export_id: uuid.UUID = export.id
    done = await exports_service.execute_export(
        db, settings, tenant_id=principal.tenant_id, export_id=export_id
    )
    assert done is not None
    assert done.path is not None
    artifact = done.manifest["artifact"]
    report = {
        "export_id": str(done.id),
        "project_id": str(done.project_id),
        "format": done.format,
        "status": done.status,
        "bytes": artifact["bytes"],
        "sha256": artifact["sha256"],
        "documents": len(done.manifest.get("files", [])) - 1,
        "expires_at": done.expires_at.isoformat() if done.expires_at else None,
        "filename": artifact["filename"],
    }
    return report, settings.data_dir / done.path


def export(
    settings: Settings,
    *,
    project: str,
    export_format: str,
    out: Path | None,
    versions: Sequence[str],
    json_output: bool,
) -> None:
    export_format = guarded(lambda: check_format(export_format))
    pinned = guarded(lambda: parse_versions(versions))
    if out is not None:
        guarded(lambda: check_writable_dir(out if out.is_dir() else out.expanduser().parent))

    report, stored = with_database(
        settings, lambda _runtime, db: _export(db, settings, project, export_format, pinned)
    )
    target = _target(out, str(report["filename"]))
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(stored, target)
    report["path"] = str(target)
    if json_output:
        print_json(report)
        return
    stdout.print(
        f"{report['format'].upper()} export of {report['documents']} documents: {target} "
        f"({report['bytes']:,} bytes)",
        highlight=False,
    )
