"""The export state machine: the only code that changes an export's status.

pending → running → ready → expired, and pending/running → failed. A move the table
does not list is a bug in the caller (an export's state is never set by a user), so it
raises ``InvalidTransition`` rather than quietly rewriting history.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jeex.errors import InvalidTransition
from jeex.exports.models import Export
from jeex.vocabulary import ExportStatus

_E = ExportStatus

#: status → the statuses it may become.
TRANSITIONS: Mapping[ExportStatus, frozenset[ExportStatus]] = {
    _E.PENDING: frozenset({_E.RUNNING, _E.FAILED}),
    # A retried job finds its export running: it renders it again.
    _E.RUNNING: frozenset({_E.RUNNING, _E.READY, _E.FAILED}),
    _E.READY: frozenset({_E.EXPIRED}),
    _E.FAILED: frozenset(),
    _E.EXPIRED: frozenset(),
}

#: Not finished yet: a job will (or should) still move it.
UNFINISHED = frozenset({_E.PENDING, _E.RUNNING})


def move(export: Export, status: ExportStatus, **values: Any) -> None:
    """Give ``export`` its next status and the columns that go with it."""
    if status not in TRANSITIONS[export.status]:
        raise InvalidTransition(f"an export that is {export.status} cannot become {status}")
    export.status = status
    for name, value in values.items():
        setattr(export, name, value)
