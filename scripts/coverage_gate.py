"""Fails when the business logic (services, agents, repair rules, runner) is under 90 % covered.

The whole package is reported by pytest-cov; this gate holds the part whose bugs
cost documents: the code that decides what is written, stored and repaired.
"""

from __future__ import annotations

import sys

import coverage

BUSINESS_LOGIC = [
    "*/jeex/agents/*",
    "*/jeex/runs/*",
    "*/jeex/engine/*",
    "*/jeex/tasks/runs.py",
    "*/jeex/tasks/exports.py",
    "*/jeex/tasks/exhibits.py",
    "*/jeex/tasks/budgets.py",
    "*/jeex/tenants/*",
    "*/jeex/audit/*",
    "*/jeex/auth/*",
    "*/jeex/api/ratelimits.py",
    "*/jeex/*/service.py",
    "*/jeex/documents/readability.py",
    "*/jeex/llm/client.py",
    "*/jeex/retrieval/*",
    "*/jeex/exhibits/extract.py",
    "*/jeex/exhibits/files.py",
    "*/jeex/exhibits/sniff.py",
]
THRESHOLD = 90.0


def main() -> int:
    cov = coverage.Coverage()
    cov.load()
    print("\nBusiness logic coverage (gate: 90 %):")
    percent = cov.report(include=BUSINESS_LOGIC, show_missing=True, skip_covered=True)
    if percent < THRESHOLD:
        print(f"FAIL: business logic coverage {percent:.1f} % is under {THRESHOLD:.0f} %")
        return 1
    print(f"OK: business logic coverage {percent:.1f} %")
    return 0


if __name__ == "__main__":
    sys.exit(main())
