"""Exports of a package the real pipeline wrote (scripted LLM): every format, real metadata."""

from __future__ import annotations

import io
import json
import zipfile

import docx
import openpyxl
import pypdf
from pptx import Presentation

from jeex.engine import plans as pipeline
from jeex.engine.observer import NullObserver
from jeex.engine.runner import RunnerDeps
from jeex.exports import service as exports_service
from jeex.exports.formats import FORMATS
from jeex.tenants.service import Principal
from support.factories import create_plan


async def test_every_format_of_a_planned_package(deps: RunnerDeps, principal: Principal) -> None:
    project, runs = await create_plan(
        deps.db, tenant=principal, steps=(1, 2, 3, 4), model=deps.llm.model
    )
    finished = await pipeline.execute_runs(deps, principal, runs, NullObserver())
    assert [r.status for r in finished] == ["completed"] * 4
    files = {}
    for export_format in FORMATS:
        async with deps.db.tenant_session(principal.tenant_id) as session:
            export = await exports_service.create(
                session, project_id=project.id, format=export_format, enqueue=False
            )
        done = await exports_service.execute_export(
            deps.db, deps.settings, tenant_id=principal.tenant_id, export_id=export.id
        )
        assert done is not None
        assert done.path is not None
        files[export_format] = (deps.settings.data_dir / done.path).read_bytes()

    with zipfile.ZipFile(io.BytesIO(files["zip"])) as archive:
        manifest = json.loads(archive.read(f"{project.slug}/manifest.json"))
    epics = [f for f in manifest["files"] if f["document_type"] == "plan_epic"]
    assert len(epics) >= 3
    assert {f["template"] for f in manifest["files"][1:]} >= {"about", "specs", "architecture"}
    assert all(f["model"] == deps.llm.model for f in manifest["files"])

    pdf_text = "".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(files["pdf"])).pages)
    assert "Contents" in pdf_text
    assert "Problem" in pdf_text

    document = docx.Document(io.BytesIO(files["docx"]))
    headings = [p.text for p in document.paragraphs if p.style and p.style.name == "Heading 1"]
    assert len(headings) == len(manifest["files"]) - 1 + 1  # every document, plus "Contents"

    workbook = openpyxl.load_workbook(io.BytesIO(files["xlsx"]))
    assert workbook.sheetnames == ["Epics", *[f"Epic {f['epic_number']:02d}" for f in epics]]
    sheet = workbook["Epics"]
    assert sheet.max_row == len(epics) + 1
    assert sheet["B2"].value
    # Epic 1's tasks are a list, so its sheet has rows. A later epic whose list repeated
    # one already written (the scripted server writes the same items for every epic) may
    # have no tasks left; its sheet is still there.
    assert workbook["Epic 01"].max_row >= 2

    deck = Presentation(io.BytesIO(files["pptx"]))
    assert len(deck.slides) == 6
