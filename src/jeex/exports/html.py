"""The whole package as one HTML document: title page, contents, every document.

Document bodies are sanitised HTML (``exports.markdown``); everything else (project
name, idea, titles, model names) is user or model text and goes through Jinja2 with
autoescape on (SECURITY.md P21). The output is the input of the PDF renderer.
"""

from __future__ import annotations

from dataclasses import dataclass

from jinja2 import Environment, select_autoescape
from markupsafe import Markup

from jeex.exports.bundle import ExportBundle
from jeex.exports.markdown import to_html, xml_safe

ENVIRONMENT = Environment(autoescape=select_autoescape(default=True, default_for_string=True))

_TEMPLATE = ENVIRONMENT.from_string(
    """<!DOCTYPE html>
<html lang="{{ project.language }}">
<head><meta charset="utf-8"><title>{{ project.name }}</title></head>
<body>
<div class="title-page">
  <h1>{{ project.name }}</h1>
  <p class="idea">{{ project.idea }}</p>
  <dl>
    <dt>Audience</dt><dd>{{ project.audience or "—" }}</dd>
    <dt>Language</dt><dd>{{ project.language }}</dd>
    <dt>Model</dt><dd>{{ project.model }}</dd>
    <dt>Generated</dt><dd>{{ generated_at }}</dd>
    <dt>JEEX version</dt><dd>{{ project.jeex_version }}</dd>
  </dl>
</div>
<nav class="toc">
  <h1>Contents</h1>
  <ol>
  {% for section in sections %}
    <li><a href="#{{ section.anchor }}">{{ section.title }}</a></li>
  {% endfor %}
  </ol>
</nav>
{% for section in sections %}
<section class="document" id="{{ section.anchor }}">
  <div class="doc-body">{{ section.body }}</div>
</section>
{% endfor %}
</body>
</html>
"""
)


@dataclass(frozen=True)
class HtmlSection:
    """One document's place in the contents and its sanitised body."""

    anchor: str
    title: str
    body: Markup


def render_html(bundle: ExportBundle) -> str:
    """Anchors are generated (``doc-N``), never taken from titles, so they are always valid."""
    sections = [
        HtmlSection(
            anchor=f"doc-{index}",
            title=xml_safe(item.doc.title),
            # The body was cleaned by nh3's allow-list; Markup stops a second escaping.
            body=Markup(to_html(item.doc.content)),  # noqa: S704
        )
        for index, item in enumerate(bundle.documents, 1)
    ]
    project = bundle.project
    return _TEMPLATE.render(
        project=project,
        sections=sections,
        generated_at=project.generated_at.strftime("%Y-%m-%d %H:%M UTC"),
    )


_DOCUMENT = ENVIRONMENT.from_string(
    """<!DOCTYPE html>
<html lang="{{ language }}">
<head><meta charset="utf-8"><title>{{ title }}</title></head>
<body>
{% if case_ref %}<p class="case-ref">{{ case_ref }}</p>{% endif %}
<section class="document">
  <div class="doc-body">{{ body }}</div>
</section>
</body>
</html>
"""
)


def render_document_html(*, title: str, content: str, language: str, case_ref: str | None) -> str:
    """One document on its own (a petition, a letter): no title page, no contents."""
    return _DOCUMENT.render(
        title=xml_safe(title),
        language=language,
        case_ref=case_ref,
        body=Markup(to_html(content)),  # noqa: S704 - nh3's allow-list cleaned it
    )
