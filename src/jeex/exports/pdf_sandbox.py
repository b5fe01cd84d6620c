"""Child-process entry of the PDF renderer: HTML on stdin, PDF on stdout.

Run by ``exports.pdf.render_pdf`` under a timeout and RLIMIT_AS; it has no database
connection, no settings and no secrets, and its fetcher refuses every URL but the
bundled stylesheet.
"""

from __future__ import annotations

import logging
import sys

from jeex.exports.pdf import html_to_pdf


def main() -> None:
    # WeasyPrint logs each refused URL; stderr is kept for the one-line failure reason.
    logging.getLogger("weasyprint").setLevel(logging.CRITICAL)
    html = sys.stdin.buffer.read().decode("utf-8")
    sys.stdout.buffer.write(html_to_pdf(html))
    sys.stdout.buffer.flush()


if __name__ == "__main__":
    main()
