"""A Mermaid component diagram for when the model writes none.

Architecture documents promise a diagram, and a small model rarely writes valid
Mermaid. The components section of the same document lists the components and,
often, which ones they talk to; that is enough for an honest flowchart: one node
per component and an edge only where a description names another component.
The document's checklist still records that the model did not write it.
"""

from __future__ import annotations

import re

from jeex.agents.repair_text import clean_title, dedupe_key, is_placeholder

MAX_NODES = 12
_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+(.*)$")
_TERM = re.compile(r"^\*\*(.+?)\*\*\s*[:\-–—]?\s*(.*)$|^([^:]{2,50}):\s+(.*)$")
_UNSAFE = re.compile(r"[\"\[\](){}<>|`;#]")


def components(markdown: str) -> list[tuple[str, str]]:
    """``(name, description)`` of each list item that names a component."""
    found: dict[str, tuple[str, str]] = {}
    for line in markdown.splitlines():
        item = _ITEM.match(line)
        if item is None:
            continue
        term = _TERM.match(item.group(1).strip())
        if term is None:
            continue
        name = clean_title(term.group(1) or term.group(3) or "")
        if 2 <= len(name) <= 60 and not is_placeholder(name):
            found.setdefault(dedupe_key(name), (name, term.group(2) or term.group(4) or ""))
    return list(found.values())[:MAX_NODES]


def flowchart(items: list[tuple[str, str]]) -> str | None:
    """A fenced ``flowchart LR``; None when there are fewer than two components."""
    if len(items) < 2:
        return None
    lines = ["```mermaid", "flowchart LR"]
    for index, (name, _) in enumerate(items, 1):
        lines.append(f'    C{index}["{_UNSAFE.sub("", name)}"]')
    for index, (_, description) in enumerate(items, 1):
        for other, (name, _) in enumerate(items, 1):
            if other != index and re.search(rf"\b{re.escape(name)}\b", description, re.I):
                lines.append(f"    C{index} --> C{other}")
    lines.append("```")
    return "\n".join(lines)
