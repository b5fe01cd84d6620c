"""Exports: the package as ZIP, PDF, DOCX, XLSX or PPTX, with expiring downloads.

``service`` (request, job body, download, cleanup) · ``tasks`` (queue jobs) · ``bundle``
(what an export is made of) · ``markdown`` (the sanitised token stream every renderer
reads) · one module per format: ``zip_export``, ``html`` + ``pdf`` (+ ``pdf_sandbox``, the
child process), ``docx_export``, ``xlsx_export``, ``pptx_export`` · ``storage`` (files) ·
``package`` (the Markdown tree ``jeex plan`` writes). See docs/exports.md.
"""
