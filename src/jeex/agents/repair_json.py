"""Reading JSON a weak model wrote: fenced, wrapped in prose, cut off, or with raw newlines.

The endpoint is asked to enforce the schema, but an answer cut by ``max_tokens``
or wrapped in a code fence still arrives; these rules recover what is recoverable
and leave validation (and the decision to retry) to the caller.
"""

from __future__ import annotations

import json
import re
from typing import Any

from jeex.db.text import without_nul

_FENCE = re.compile(r"^\s*```[a-zA-Z]*\s*\n?(.*?)\n?```\s*$", re.DOTALL)


def _closers(text: str) -> str | None:
    """The brackets that would close a cut-off document, or None if a string is open."""
    stack: list[str] = []
    in_string = escaped = False
    for char in text:
        if in_string:
            escaped = char == "\\" and not escaped
            if char == '"' and not escaped:
                in_string = False
            continue
        if char == '"':
            in_string = True
        elif char in "{[":
            stack.append("}" if char == "{" else "]")
        elif char in "}]" and stack:
            stack.pop()
    return None if in_string else "".join(reversed(stack))


def _close_truncated(text: str) -> Any:
    """Cut back to the last complete value, then close the open brackets."""
    for end in range(len(text), 0, -1):
        if text[end - 1] not in '}]"0123456789el':  # ends of complete JSON values
            continue
        head = text[:end].rstrip().rstrip(",")
        closers = _closers(head)
        if closers is None:
            continue
        try:
            return json.loads(head + closers, strict=False)
        except ValueError:
            continue
    raise ValueError("no JSON object could be recovered from the answer")


def loads_lenient(text: str) -> Any:
    """``json.loads`` that tolerates fences, surrounding prose, raw newlines and truncation;
    strings come back without U+0000."""
    return without_nul(_loads(text))


def _loads(text: str) -> Any:
    fenced = _FENCE.match(text)
    body = fenced.group(1) if fenced else text
    try:
        return json.loads(body, strict=False)
    except ValueError:
        pass
    start = body.find("{")
    if start < 0:
        raise ValueError("the answer contains no JSON object")
    end = body.rfind("}")
    if end > start:
        try:
            return json.loads(body[start : end + 1], strict=False)
        except ValueError:
            pass
    return _close_truncated(body[start:])
