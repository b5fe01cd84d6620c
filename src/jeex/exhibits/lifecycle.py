"""The exhibit state machine: pending until processed once, then ready or failed for good.

A failed exhibit is not processed again (the same file fails the same way); the user
deletes it and adds it again. This module is the only code that changes the status.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jeex.errors import InvalidTransition
from jeex.exhibits.models import Exhibit
from jeex.vocabulary import ExhibitStatus

TRANSITIONS: Mapping[ExhibitStatus, frozenset[ExhibitStatus]] = {
    ExhibitStatus.PENDING: frozenset({ExhibitStatus.READY, ExhibitStatus.FAILED}),
    ExhibitStatus.READY: frozenset(),
    ExhibitStatus.FAILED: frozenset(),
}


def move(exhibit: Exhibit, status: ExhibitStatus, **values: Any) -> None:
    """Give ``exhibit`` its final status and the columns that go with it."""
    if status not in TRANSITIONS[exhibit.status]:
        raise InvalidTransition(f"an exhibit that is {exhibit.status} cannot become {status}")
    exhibit.status = status
    for name, value in values.items():
        setattr(exhibit, name, value)
