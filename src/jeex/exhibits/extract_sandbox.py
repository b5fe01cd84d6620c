"""Child-process entry of exhibit text extraction: the file on stdin, its blocks on stdout.

Run by ``exhibits.extract.extract_isolated`` under a wall-clock timeout, RLIMIT_AS and
RLIMIT_CPU (SECURITY.md P18). It opens no database, reads no settings and is given no
secrets (its environment is cut down to ``PATH``, ``PYTHONPATH`` and the locale): all it
knows is the header line and the file's bytes.

Protocol. stdin: one JSON line ``{"media_type": …, "limits": {"pages": …, "chars": …,
"unzipped_bytes": …}, "rlimits": {"memory_mb": …, "cpu_seconds": …}}``, then the bytes of
the file; the child sets its own rlimits before it reads them. stdout and exit code:

- 0 and ``{"blocks": [[text, page, heading], …]}``: extracted;
- ``EXIT_REFUSED`` and ``{"error": reason}``: the file was refused (`ExtractionFailed`);
  it would be refused again;
- ``EXIT_OUT_OF_MEMORY``: it needed more than the address-space limit.

Anything else (another exit code, a signal) is a crash the parent reports as such.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from jeex.errors import ExtractionFailed
from jeex.exhibits.extract import (
    EXIT_OUT_OF_MEMORY,
    EXIT_REFUSED,
    Limits,
    apply_rlimits,
    extract,
)


def _answer(body: dict[str, Any]) -> None:
    sys.stdout.buffer.write(json.dumps(body, ensure_ascii=False).encode("utf-8"))
    sys.stdout.buffer.flush()


def main() -> int:
    header = json.loads(sys.stdin.buffer.readline())
    apply_rlimits(**header["rlimits"])  # before a byte of the file is read
    limits = Limits(**header["limits"])
    data = sys.stdin.buffer.read()
    try:
        blocks = extract(data, str(header["media_type"]), limits)
    except ExtractionFailed as exc:
        _answer({"error": exc.message})
        return EXIT_REFUSED
    except MemoryError:
        # The tree that did not fit is gone with the frames that held it; the exit code
        # says it all should even this line fail.
        sys.stderr.write("MemoryError\n")
        return EXIT_OUT_OF_MEMORY
    _answer({"blocks": [[b.text, b.page, b.heading] for b in blocks]})
    return 0


if __name__ == "__main__":
    sys.exit(main())
