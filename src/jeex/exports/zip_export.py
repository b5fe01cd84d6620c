"""ZIP export: the DESIGN §1 tree, its README and a ``manifest.json``, in one archive.

Entry names come from ``package.package_entries`` (sanitised slugs, checked against an
allow-list pattern, SECURITY.md P19); the manifest is added under the same root and the
whole name list is checked again before a byte is written.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from jeex.exports.bundle import ExportBundle
from jeex.exports.package import (
    README_NAME,
    check_entry_names,
    package_entries,
    package_path,
    safe_slug,
    zip_bytes,
)

MANIFEST_NAME = "manifest.json"


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def manifest(bundle: ExportBundle, entries: list[tuple[str, bytes]]) -> dict[str, Any]:
    """Project, then one record per file: type, version, sha256, model, template, date."""
    project = bundle.project
    digests = {name: (hashlib.sha256(data).hexdigest(), len(data)) for name, data in entries}
    slug = safe_slug(project.slug, "project")
    files: list[dict[str, Any]] = []
    readme = f"{slug}/{README_NAME}"
    files.append(
        {
            "path": README_NAME,
            "document_type": "readme",
            "version": 1,
            "sha256": digests[readme][0],
            "bytes": digests[readme][1],
            "model": project.model,
            "template": None,
            "template_version": None,
            "generated_at": _iso(project.generated_at),
        }
    )
    for item in bundle.documents:
        path = package_path(item.doc).as_posix()
        sha, size = digests[f"{slug}/{path}"]
        files.append(
            {
                "path": path,
                "document_type": item.doc.document_type,
                "epic_number": item.doc.epic_number or None,
                "title": item.doc.title,
                "version": item.doc.version,
                "sha256": sha,
                "bytes": size,
                "model": item.doc.model,
                "template": item.template,
                "template_version": item.template_version,
                "generated_at": _iso(item.doc.generated_at),
            }
        )
    return {
        "project": {
            "id": project.project_id,
            "name": project.name,
            "slug": slug,
            "language": project.language,
        },
        "generated_at": _iso(project.generated_at),
        "jeex_version": project.jeex_version,
        "template_versions": dict(sorted(project.template_versions.items())),
        "files": files,
    }


def render_zip(bundle: ExportBundle) -> tuple[bytes, dict[str, Any]]:
    """The archive and its manifest (the manifest is also stored on the export row)."""
    entries = package_entries(bundle.project, [d.doc for d in bundle.documents])
    data = manifest(bundle, entries)
    root = safe_slug(bundle.project.slug, "project")
    body = json.dumps(data, indent=2, ensure_ascii=False).encode("utf-8") + b"\n"
    entries.append((f"{root}/{MANIFEST_NAME}", body))
    check_entry_names([name for name, _ in entries])
    return zip_bytes(entries, bundle.project.generated_at), data
