"""The export and exhibit state machines: every (status, next status) pair."""

from __future__ import annotations

import itertools

import pytest

from jeex.errors import InvalidTransition
from jeex.exhibits import lifecycle as exhibit_lifecycle
from jeex.exhibits.models import Exhibit
from jeex.exports import lifecycle as export_lifecycle
from jeex.exports.models import Export
from jeex.vocabulary import ExhibitStatus, ExportStatus

EXPORT_PAIRS = list(itertools.product(ExportStatus, ExportStatus))
EXHIBIT_PAIRS = list(itertools.product(ExhibitStatus, ExhibitStatus))


@pytest.mark.parametrize(("start", "end"), EXPORT_PAIRS, ids=[f"{a}-{b}" for a, b in EXPORT_PAIRS])
def test_every_export_move(start: ExportStatus, end: ExportStatus) -> None:
    export = Export(status=start, error=None)
    if end in export_lifecycle.TRANSITIONS[start]:
        export_lifecycle.move(export, end, error="why")
        assert (export.status, export.error) == (end, "why")
    else:
        with pytest.raises(InvalidTransition, match=f"that is {start} cannot become {end}"):
            export_lifecycle.move(export, end, error="why")
        assert (export.status, export.error) == (start, None)


def test_an_export_ends_ready_then_expired_or_failed() -> None:
    ends = {s for s, nexts in export_lifecycle.TRANSITIONS.items() if not nexts}
    assert ends == {ExportStatus.FAILED, ExportStatus.EXPIRED}
    assert export_lifecycle.TRANSITIONS[ExportStatus.READY] == {ExportStatus.EXPIRED}


@pytest.mark.parametrize(
    ("start", "end"), EXHIBIT_PAIRS, ids=[f"{a}-{b}" for a, b in EXHIBIT_PAIRS]
)
def test_every_exhibit_move(start: ExhibitStatus, end: ExhibitStatus) -> None:
    exhibit = Exhibit(status=start, text_chars=0)
    if start == ExhibitStatus.PENDING and end != ExhibitStatus.PENDING:
        exhibit_lifecycle.move(exhibit, end, text_chars=12)
        assert (exhibit.status, exhibit.text_chars) == (end, 12)
    else:
        with pytest.raises(InvalidTransition):
            exhibit_lifecycle.move(exhibit, end, text_chars=12)
        assert (exhibit.status, exhibit.text_chars) == (start, 0)
