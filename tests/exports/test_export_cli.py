"""``jeex export`` as a user runs it: a real process against the test database."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import docx
import pytest

from jeex.db.session import Database
from jeex.db.urls import DatabaseUrls
from jeex.tenants.service import ensure_local_principal
from support.cli import ainvoke, jeex_env
from support.exports import seed_committed


@pytest.fixture
def cli_env(database_urls: DatabaseUrls, tmp_path: Path) -> dict[str, str]:
    return jeex_env(
        JEEX_DATABASE_URL=database_urls.owner.render_as_string(hide_password=False),
        JEEX_LLM_BASE_URL="http://127.0.0.1:9/v1",  # never called by export
        JEEX_DATA_DIR=str(tmp_path / "data"),
    )


async def test_export_writes_the_file_and_reports_json(
    db: Database, cli_env: dict[str, str], tmp_path: Path
) -> None:
    project = await seed_committed(db, await ensure_local_principal(db), name="CLI Export Lists")
    out = tmp_path / "out"
    out.mkdir()
    result = await ainvoke(
        cli_env, "export", project.slug, "--format", "zip", "--out", str(out), "--json"
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    path = Path(report["path"])
    assert path == out / f"{project.slug}.zip"
    assert (report["format"], report["status"], report["documents"]) == ("zip", "ready", 7)
    with zipfile.ZipFile(path) as archive:
        assert f"{project.slug}/manifest.json" in archive.namelist()

    docx_path = tmp_path / "deep" / "plan.docx"
    result = await ainvoke(cli_env, "export", str(project.id), "-f", "DOCX",
                           "--out", str(docx_path), "--use", "about@1")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert str(docx_path) in result.stdout
    document = docx.Document(io.BytesIO(docx_path.read_bytes()))
    assert any(p.text == "About: Family Lists" for p in document.paragraphs)


async def test_export_bad_input_is_one_line_and_exit_2(
    db: Database, cli_env: dict[str, str], tmp_path: Path
) -> None:
    empty = await seed_committed(db, await ensure_local_principal(db), [], name="Empty CLI")
    result = await ainvoke(cli_env, "export", empty.slug, "--format", "odt")
    assert result.returncode == 2
    assert "zip, pdf, docx, xlsx, pptx" in result.stderr
    result = await ainvoke(
        cli_env, "export", empty.slug, "--format", "pdf", "--out", str(tmp_path / "x.pdf")
    )
    assert result.returncode == 2
    assert "step 1" in result.stderr
    assert not (tmp_path / "x.pdf").exists()
    result = await ainvoke(cli_env, "export", "no-such-project")
    assert result.returncode == 2
    result = await ainvoke(cli_env, "export", empty.slug, "--use", "about")
    assert result.returncode == 2
    assert "about@2" in result.stderr
