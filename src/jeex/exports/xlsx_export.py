"""XLSX export with openpyxl: one sheet of epics, one sheet of tasks per epic.

Every cell that holds document text is forced to the string type: a task that starts
with ``=`` (``=HYPERLINK("http://…")``, ``=cmd|…``) stays text, never becomes a formula
that Excel would evaluate (CSV/formula injection).
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from openpyxl import Workbook
from openpyxl.cell.cell import Cell, MergedCell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from jeex.exports.bundle import ExportBundle
from jeex.exports.markdown import xml_safe
from jeex.exports.plan_data import EpicRow, epic_rows

EPIC_HEADERS = ("Number", "Title", "Goal", "Depends on", "Estimate (days)", "Tasks")
EPIC_WIDTHS = (10, 40, 70, 14, 16, 8)
TASK_HEADERS = ("#", "Task", "Done")
TASK_WIDTHS = (6, 100, 8)
HEADER_FILL = PatternFill("solid", fgColor="1A1A40")
HEADER_FONT = Font(bold=True, color="FFFFFF")
CELL_LIMIT = 32_000  # Excel refuses cells longer than 32,767 characters


def _text(cell: Cell | MergedCell, value: str) -> None:
    cell.value = xml_safe(value)[:CELL_LIMIT]
    cell.data_type = "s"  # never a formula, whatever the text starts with
    cell.alignment = Alignment(wrap_text=True, vertical="top")


def _header(sheet: Worksheet, headers: Sequence[str], widths: Sequence[int]) -> None:
    sheet.append(list(headers))
    for index, width in enumerate(widths, 1):
        cell = sheet.cell(row=1, column=index)
        cell.fill, cell.font = HEADER_FILL, HEADER_FONT
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "A2"


def _finish(sheet: Worksheet, columns: int) -> None:
    last = max(sheet.max_row, 1)
    sheet.auto_filter.ref = f"A1:{get_column_letter(columns)}{last}"


def _epics_sheet(sheet: Worksheet, rows: Sequence[EpicRow]) -> None:
    sheet.title = "Epics"
    _header(sheet, EPIC_HEADERS, EPIC_WIDTHS)
    for line, epic in enumerate(rows, 2):
        sheet.cell(row=line, column=1, value=epic.number)
        _text(sheet.cell(row=line, column=2), epic.title)
        _text(sheet.cell(row=line, column=3), epic.goal)
        _text(sheet.cell(row=line, column=4), ", ".join(str(n) for n in epic.depends_on))
        sheet.cell(row=line, column=5, value=epic.estimate_days)
        sheet.cell(row=line, column=6, value=len(epic.tasks))
    _finish(sheet, len(EPIC_HEADERS))


def task_sheet_title(epic: EpicRow) -> str:
    """``Epic 01`` — sheet names allow 31 characters and no ``[]:*?/\\``; numbers are safe."""
    return f"Epic {epic.number:02d}"


def _tasks_sheet(sheet: Worksheet, epic: EpicRow) -> None:
    _header(sheet, TASK_HEADERS, TASK_WIDTHS)
    for line, task in enumerate(epic.tasks, 2):
        sheet.cell(row=line, column=1, value=line - 1)
        _text(sheet.cell(row=line, column=2), task)
        sheet.cell(row=line, column=3, value="")
    _finish(sheet, len(TASK_HEADERS))


def render_xlsx(bundle: ExportBundle) -> bytes:
    """The workbook; a project without a plan yet still gets an (empty) Epics sheet."""
    workbook = Workbook()
    rows = epic_rows(bundle)
    sheet = workbook.active
    assert sheet is not None
    _epics_sheet(sheet, rows)
    for epic in rows:
        _tasks_sheet(workbook.create_sheet(task_sheet_title(epic)), epic)
    workbook.properties.title = xml_safe(bundle.project.name)[:255]
    workbook.properties.creator = "JEEX Plan"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
