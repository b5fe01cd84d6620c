"""A scripted, deterministic OpenAI-compatible chat server for tests and benchmarks.

Product tests need a real HTTP endpoint (so the real ``openai`` SDK, its retries, timeouts and
streaming parser are exercised) but cannot afford a real model, and need to provoke the failure
modes a real server shows only occasionally. This server answers on loopback with content that is
a pure function of the request, and lets a test queue faults for the next requests.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import json
import random
import re
import socket
import threading
import time
import urllib.request
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

__all__ = ["FAULT_KINDS", "ScriptedLLM"]

FAULT_KINDS = frozenset({"delay", "status", "malformed_json", "drop", "hang"})

# Scope key under which the outer ASGI wrapper stores the server's own ``send``; the only way to
# reach the socket and close it without an HTTP response (the "drop" fault).
_RAW_SEND_KEY = "fakellm.raw_send"

_TITLES = (
    "Infrastructure and project setup",
    "User accounts",
    "Shared lists",
    "Notifications",
    "Testing and quality assurance",
    "Search and filtering",
    "Reporting and analytics",
)
_NESTED_TITLES = (
    "Define the data model",
    "Build the API endpoint",
    "Add the user interface",
    "Write automated tests",
    "Document the behaviour",
    "Handle edge cases",
)
_QUESTIONS = (
    "Who are the primary users of {s}?",
    "What problem does {s} solve that current tools do not?",
    "Which platforms must {s} support at launch?",
    "How will success for {s} be measured?",
    "What constraints on budget or timeline apply to {s}?",
    "Which integrations does {s} need on day one?",
)
_SENTENCES = (
    "Item {n} for {s} covers {k} with clear acceptance criteria.",
    "Item {n} for {s} keeps {k} simple and easy to verify.",
    "Item {n} for {s} records how {k} behaves under load.",
    "Item {n} for {s} explains why {k} matters to users.",
    "Item {n} for {s} lists the risks around {k} and their owners.",
)
_STOPWORD_TEXT = """
    a an the and or but if then else for to of in on at by with from into onto over under
    about as is are was were be been being this that these those it its it's their there they
    them we our you your he she his her i me my not no yes do does did done can could should
    would will shall may might must have has had than so such very just also only more most
    some any each every all both few many much other which who whom whose what when where why
    how section idea write paragraph paragraphs markdown please using use about following
    document project"""
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())
_PLACEHOLDERS = frozenset({"todo", "tbd", "fixme", "xxx", "lorem", "ipsum", "placeholder"})
_GARBAGE = ("%%", "]]}", "{{", "\u00bf", "@@@", "~~", "0x", "\u2592", "!!", "#?")


# --------------------------------------------------------------------------- text helpers


def _content_text(content: Any) -> str:
    """Flatten OpenAI message content, which may be a string or a list of typed parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return ""


def _count_tokens(text: str) -> int:
    """Whitespace words stand in for tokens so tests can predict counts by hand."""
    return len(text.split())


def _pieces(text: str) -> list[str]:
    """Split into one piece per token (a word plus its trailing whitespace), lossless."""
    pieces = re.findall(r"\S+\s*", text)
    leading = text[: len(text) - len(text.lstrip())]
    if leading:
        if pieces:
            pieces[0] = leading + pieces[0]
        else:
            pieces = [leading]
    return pieces


def _seed(text: str) -> int:
    """Stable across processes, unlike ``hash()``, so runs are reproducible."""
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big")


#: Vector size of the scripted embeddings route (unless the request names one).
EMBEDDING_DIMENSIONS = 64


def _bag_of_words(text: str, dims: int) -> list[float]:
    vector = [0.0] * dims
    for word in re.findall(r"\w+", text.lower()):
        seed = _seed(word)
        vector[seed % dims] += 1.0 if seed & (1 << 40) else -1.0
    norm = sum(x * x for x in vector) ** 0.5
    if norm == 0:
        return [1.0] + [0.0] * (dims - 1)
    return [x / norm for x in vector]


def _keywords(text: str) -> list[str]:
    """Content words of the prompt, so generated text visibly relates to what was asked."""
    seen: list[str] = []
    for raw in re.findall(r"[A-Za-z][A-Za-z'-]+", text):
        word = raw.lower().strip("'-")
        if len(word) < 4 or word in _STOPWORDS or word in _PLACEHOLDERS or word in seen:
            continue
        seen.append(word)
    return seen


def _parse_prompt(text: str) -> tuple[str | None, str | None]:
    """Find the ``Section:`` and ``Idea:`` lines the product's writer prompts carry."""
    section: str | None = None
    idea: str | None = None
    lines = text.splitlines()
    for i, line in enumerate(lines):
        stripped = line.strip().lstrip("*#- ").strip()
        lower = stripped.lower()
        if section is None and lower.startswith("section:"):
            section = stripped[len("section:") :].strip().strip("*").strip() or None
        elif idea is None and lower.startswith("idea:"):
            idea = stripped[len("idea:") :].strip()
            if not idea:
                idea = next((nxt.strip() for nxt in lines[i + 1 :] if nxt.strip()), "")
            idea = idea or None
    return section, idea


def _subject(idea: str | None, text: str) -> str:
    """A short noun phrase for the product being discussed."""
    if idea:
        words = [w for w in idea.split() if w.lower().strip(".,;:!?") not in _PLACEHOLDERS][:6]
        # A phrase ending in "for" or "with" reads as cut off; drop such tails.
        while words and words[-1].lower().strip(".,;:!?") in _STOPWORDS:
            words.pop()
        if words:
            first = words[0]
            if not (len(first) > 1 and first.isupper()):  # keep acronyms like "CRM"
                words[0] = first[0].lower() + first[1:]
            return " ".join(words).rstrip(".,;:!?")
    kws = _keywords(text)[:3]
    return "the " + " ".join(kws) + " product" if kws else "the product"


def _word_count(paragraphs: list[list[str]]) -> int:
    return sum(len(s.split()) for para in paragraphs for s in para)


# --------------------------------------------------------------------------- prose


def _prose_answer(text: str) -> str:
    """Two short paragraphs about the requested section, free of headings and placeholders."""
    section, idea = _parse_prompt(text)
    rng = random.Random(_seed(text))
    if section is None:
        return _generic_answer(text, rng)
    body = "\n".join(
        ln for ln in text.splitlines() if not ln.strip().lower().startswith("section:")
    )
    kws = _keywords(idea or body) or ["users", "workflow", "value"]
    start = rng.randrange(len(kws))
    k1, k2, k3 = (kws[(start + i) % len(kws)] for i in range(3))
    subj = _subject(idea, body)
    first = [
        rng.choice(
            (
                f"The {section} section sets out how {subj} should serve its first users.",
                f"This part, {section}, describes how {subj} creates value from day one.",
                f"Under {section}, we explain what {subj} must achieve for early adopters.",
            )
        ),
        rng.choice(
            (
                f"It explains why {k1} matters, who depends on {k2}, and which constraints "
                "shape the early decisions.",
                f"It connects {k1} with {k2} and names the constraints that limit the first "
                "release.",
                f"It shows how {k1} and {k2} fit together and what the team must decide first.",
            )
        ),
        "Every statement stays concrete so reviewers can check it against the original idea.",
    ]
    second = [
        rng.choice(
            (
                f"For {section.lower()}, the scope stays small: {k3} comes first, while "
                "secondary ideas wait for real feedback.",
                f"In practice, {k3} is delivered early and refined once real users report "
                "how they work.",
                f"The plan favours {k3} over extras, keeping the first milestone short and "
                "testable.",
            )
        ),
        "Risks are named early, owners are clear, and progress is measured with simple "
        "signals such as adoption and time saved.",
        "Open points are tracked as explicit decisions rather than left vague.",
    ]
    paragraphs = [first, second]
    fillers = [
        f"The wording stays plain so that {k2} is understood by every stakeholder.",
        "Each claim can later be traced to a requirement or an acceptance test.",
    ]
    while _word_count(paragraphs) < 60 and fillers:
        second.append(fillers.pop(0))
    while _word_count(paragraphs) > 90 and len(second) > 1:
        second.pop()
    while _word_count(paragraphs) > 90 and len(first) > 1:
        first.pop()
    return "\n\n".join(" ".join(para) for para in paragraphs)


def _generic_answer(text: str, rng: random.Random) -> str:
    kws = _keywords(text) or ["the request"]
    start = rng.randrange(len(kws))
    picked = [kws[(start + i) % len(kws)] for i in range(min(3, len(kws)))]
    topic = ", ".join(picked[:-1]) + (" and " if len(picked) > 1 else "") + picked[-1]
    return (
        f"This answer addresses {topic}. "
        + rng.choice(
            (
                "It summarises the main points, states the assumptions that were made, and "
                "suggests a small next step that can be verified quickly.",
                "It lists the key considerations, explains the trade-offs involved, and "
                "proposes a concrete way forward for the team.",
            )
        )
        + " The response is deterministic, so repeating the same request yields the same text."
    )


def _garbage(text: str) -> str:
    """Deterministic junk standing in for a model that lost the plot."""
    rng = random.Random(_seed("garbage:" + text))
    return " ".join(rng.choice(_GARBAGE) + rng.choice("qzxvkj") * 2 for _ in range(12))


def _break_json(valid: str) -> str:
    """Truncate mid-document, which is what a model cut off by max_tokens produces."""
    broken = valid[: max(1, len(valid) // 2)]
    try:
        json.loads(broken)
    except ValueError:
        return broken
    return broken + '{"unterminated": ['


# --------------------------------------------------------------------------- JSON schema


@dataclass
class _Ctx:
    name: str = ""
    index: int = 0
    in_array: bool = False
    depth: int = 0


class _SchemaFaker:
    """Builds an instance valid against the JSON-schema subset that pydantic emits."""

    def __init__(self, root: dict[str, Any], prompt: str) -> None:
        self.root = root
        self.prompt = prompt
        section, idea = _parse_prompt(prompt)
        self.section = section or "Section"
        self.subject = _subject(idea, prompt)
        self.keywords = _keywords(idea or prompt) or ["the product"]

    def build(self) -> Any:
        return self._gen(self.root, _Ctx())

    def _resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        seen = 0
        while "$ref" in schema and seen < 32:
            ref = str(schema["$ref"])
            target: Any = self.root
            if not ref.startswith("#"):
                raise ValueError(f"unsupported $ref {ref!r}")
            for part in ref.lstrip("#").strip("/").split("/"):
                if part:
                    target = target[part.replace("~1", "/").replace("~0", "~")]
            merged = {k: v for k, v in schema.items() if k != "$ref"}
            schema = {**target, **merged}
            seen += 1
        return schema

    def _gen(self, schema: Any, ctx: _Ctx) -> Any:
        if not isinstance(schema, dict):
            return self._string({}, ctx)
        schema = self._resolve(schema)
        if "const" in schema:
            return schema["const"]
        if schema.get("enum"):
            values = list(schema["enum"])
            return values[ctx.index % len(values)]
        for key in ("anyOf", "oneOf"):
            if key in schema:
                options = [self._resolve(o) for o in schema[key] if isinstance(o, dict)]
                non_null = [o for o in options if o.get("type") != "null"]
                return self._gen(non_null[0], ctx) if non_null else None
        if "allOf" in schema:
            merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
            for sub in schema["allOf"]:
                sub = self._resolve(sub)
                props = {**merged.get("properties", {}), **sub.get("properties", {})}
                merged = {**sub, **merged, "properties": props}
            return self._gen(merged, ctx)
        kind = schema.get("type")
        if isinstance(kind, list):
            kind = next((k for k in kind if k != "null"), "null")
        if kind is None:
            if "properties" in schema:
                kind = "object"
            elif "items" in schema or "prefixItems" in schema:
                kind = "array"
            else:
                kind = "string"
        if kind == "object":
            return self._object(schema, ctx)
        if kind == "array":
            return self._array(schema, ctx)
        if kind == "integer":
            return int(self._number(schema, ctx, integer=True))
        if kind == "number":
            return float(self._number(schema, ctx, integer=False))
        if kind == "boolean":
            return ctx.index % 2 == 0
        if kind == "null":
            return None
        return self._string(schema, ctx)

    def _object(self, schema: dict[str, Any], ctx: _Ctx) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, sub in (schema.get("properties") or {}).items():
            out[name] = self._gen(
                sub, _Ctx(name=name, index=ctx.index, in_array=ctx.in_array, depth=ctx.depth)
            )
        return out

    def _array(self, schema: dict[str, Any], ctx: _Ctx) -> list[Any]:
        lo = int(schema.get("minItems", 0))
        n = max(lo, 3)
        if "maxItems" in schema:
            n = min(n, int(schema["maxItems"]))
        prefix = list(schema.get("prefixItems") or [])
        items = schema.get("items", {})
        out: list[Any] = []
        for i in range(n):
            sub = prefix[i] if i < len(prefix) else items
            if sub is False:
                break
            child = _Ctx(name=ctx.name, index=i, in_array=True, depth=ctx.depth + 1)
            out.append(self._gen(sub if isinstance(sub, dict) else {}, child))
        return out

    def _number(self, schema: dict[str, Any], ctx: _Ctx, *, integer: bool) -> float:
        name = ctx.name.lower()
        value: float = ctx.index + 1 if ctx.in_array else 1
        if not ctx.in_array and any(k in name for k in ("hour", "day", "point", "estimate")):
            value = 3
        lo = schema.get("minimum")
        hi = schema.get("maximum")
        xlo = schema.get("exclusiveMinimum")
        xhi = schema.get("exclusiveMaximum")
        step = 1 if integer else 0.5
        if isinstance(xlo, int | float) and not isinstance(xlo, bool):
            lo = xlo + step if lo is None else max(lo, xlo + step)
        if isinstance(xhi, int | float) and not isinstance(xhi, bool):
            hi = xhi - step if hi is None else min(hi, xhi - step)
        if lo is not None:
            value = max(value, lo)
        if hi is not None:
            value = min(value, hi)
        if integer:
            value = int(value)
            if lo is not None and value < lo:
                value += 1
        return value

    def _string(self, schema: dict[str, Any], ctx: _Ctx) -> str:
        text = self._string_value(schema, ctx)
        lo = int(schema.get("minLength", 0))
        hi = schema.get("maxLength")
        filler = " with enough detail for review"
        while len(text) < lo:
            text += filler
        if hi is not None and len(text) > int(hi):
            text = text[: int(hi)].rstrip() or text[: int(hi)]
        return text

    def _string_value(self, schema: dict[str, Any], ctx: _Ctx) -> str:
        name = ctx.name.lower()
        i = ctx.index
        n = i + 1
        kw = self.keywords[i % len(self.keywords)]
        fmt = schema.get("format")
        if fmt == "date":
            return f"2025-01-{n:02d}"
        if fmt == "date-time":
            return f"2025-01-{n:02d}T09:00:00Z"
        if fmt == "email" or "email" in name:
            return f"user{n}@example.com"
        if fmt in ("uri", "url") or name.endswith(("url", "uri", "link")):
            return f"https://example.com/{n}"
        if fmt == "uuid":
            return f"00000000-0000-4000-8000-{n:012d}"
        if "question" in name:
            return _QUESTIONS[i % len(_QUESTIONS)].format(s=self.subject)
        if "fact" in name:
            return f"Fact {n} about {self.subject}: it depends on {kw}."
        if name in ("title", "name", "heading", "label") or name.endswith(("_title", "_name")):
            if ctx.in_array and ctx.depth > 1:
                base = _NESTED_TITLES[i % len(_NESTED_TITLES)]
                rounds = i // len(_NESTED_TITLES)
            elif ctx.in_array:
                base = _TITLES[i % len(_TITLES)]
                rounds = i // len(_TITLES)
            else:
                return self.subject[:1].upper() + self.subject[1:]
            return base if rounds == 0 else f"{base} (part {rounds + 1})"
        if name in ("id", "slug", "key", "code") or name.endswith("_id"):
            return f"{name or 'item'}-{n}"
        if "criteri" in name or "acceptance" in name:
            return f"Given {self.subject}, when a user relies on {kw}, then outcome {n} is visible."
        if "risk" in name:
            return f"Risk {n}: {kw} may take longer than planned for {self.subject}."
        if "assumption" in name:
            return f"Assumption {n}: users of {self.subject} already care about {kw}."
        if name == "in_scope":
            return f"{kw.capitalize()} feature {n}: {self.subject} supports {kw} from day one."
        if name in ("items", "out_of_scope"):
            # A list section's items: distinct per section, so no two repeat in a run.
            return f"{self.section} point {n}: {self.subject} handles {kw} as agreed."
        template = _SENTENCES[i % len(_SENTENCES)]
        sentence = template.format(n=n, s=self.subject, k=kw)
        if name and name not in ("description", "summary", "text", "content", "body"):
            label = name.replace("_", " ").strip().capitalize()
            return f"{label}: {sentence}"
        return sentence


def _schema_of(response_format: Any) -> tuple[bool, dict[str, Any] | None, str | None]:
    """Return (structured?, schema, name) for both llama.cpp and OpenAI request styles."""
    if not isinstance(response_format, dict):
        return False, None, None
    kind = response_format.get("type")
    if kind == "json_object":
        schema = response_format.get("schema")
        return True, schema if isinstance(schema, dict) else None, None
    if kind == "json_schema":
        spec = response_format.get("json_schema") or {}
        schema = spec.get("schema") if isinstance(spec, dict) else None
        name = spec.get("name") if isinstance(spec, dict) else None
        return True, schema if isinstance(schema, dict) else None, name
    return False, None, None


# --------------------------------------------------------------------------- state


@dataclass
class _Fault:
    kind: str
    remaining: int
    params: dict[str, Any]


@dataclass
class _Script:
    match: str
    content: str
    remaining: int | None
    structured: bool


@dataclass
class _Plan:
    """What one request will get; decided under the lock, carried out outside it."""

    content: str
    fault: _Fault | None
    prompt_tokens: int
    max_tokens: int | None
    stream: bool
    include_usage: bool
    request_no: int


class _RawSendMiddleware:
    """Expose the server's ``send`` to handlers so "drop" can reach the transport."""

    def __init__(self, app: Starlette) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope[_RAW_SEND_KEY] = send
        await self.app(scope, receive, send)


def _cycle_of(request: Request) -> Any:
    raw = request.scope.get(_RAW_SEND_KEY)
    return getattr(raw, "__self__", None)


async def _close_connection(request: Request) -> None:
    """Close the socket under uvicorn's feet, like a crashed or OOM-killed model server."""
    cycle = _cycle_of(request)
    transport = getattr(cycle, "transport", None)
    if transport is None:
        raise ConnectionAbortedError("injected drop")  # uvicorn then closes or sends 500
    transport.close()
    for _ in range(100):  # let connection_lost run so later sends become no-ops
        if getattr(cycle, "disconnected", True):
            break
        await asyncio.sleep(0.005)


class _QuickServer(uvicorn.Server):
    """uvicorn checks for exit every 100 ms and then idles 100 ms more while shutting down.

    Product tests start a server per test, so those 200 ms per test dominate the suite; polling
    at 10 ms and waiting only for requests that are actually in flight removes them.
    """

    grace_seconds = 2.0

    async def main_loop(self) -> None:
        counter = 0
        while not await self.on_tick(counter):
            counter = (counter + 1) % 864000
            await asyncio.sleep(0.01)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in self.servers:
            server.close()
        for connection in list(self.server_state.connections):
            connection.shutdown()
        deadline = time.monotonic() + self.grace_seconds
        state = self.server_state
        while (state.connections or state.tasks) and time.monotonic() < deadline:
            await asyncio.sleep(0.005)
        for task in list(state.tasks):
            task.cancel()
        await self.lifespan.shutdown()


class ScriptedLLM:
    """A real HTTP server on loopback that plays a deterministic OpenAI-compatible model."""

    def __init__(self, *, seconds_per_token: float = 0.0, model: str = "scripted-model") -> None:
        self.seconds_per_token = seconds_per_token
        self.model = model
        self.requests: list[dict[str, Any]] = []
        self.embedded_texts = 0
        self.base_url = ""
        #: The ``Authorization`` header of every chat request, in order.
        self.authorizations: list[str] = []
        #: When set, a chat request without ``Bearer <key>`` gets OpenAI's 401, which
        #: (like OpenAI's) repeats the key it was given.
        self.required_key: str | None = None
        self._lock = threading.Lock()
        self._faults: list[_Fault] = []
        self._scripts: list[_Script] = []
        self._stopping = threading.Event()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._sock: socket.socket | None = None
        self.app = _RawSendMiddleware(self._build_app())

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> ScriptedLLM:
        if self._thread is not None:
            return self
        # proto must be explicit: asyncio only sets TCP_NODELAY on accepted sockets whose proto
        # is IPPROTO_TCP, and without it every keep-alive request pays a 40 ms delayed-ACK stall.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app,
            log_level="warning",
            access_log=False,
            http="h11",
            ws="none",
            loop="asyncio",
            lifespan="off",
            timeout_graceful_shutdown=2,
        )
        server = _QuickServer(config)
        self._stopping.clear()
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name=f"fakellm-{port}", daemon=True
        )
        self._server, self._thread, self._sock = server, thread, sock
        self.base_url = f"http://127.0.0.1:{port}/v1"
        thread.start()
        deadline = time.monotonic() + 15
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("fake LLM server failed to start")
            time.sleep(0.01)
        with urllib.request.urlopen(f"{self.base_url}/models", timeout=5) as resp:
            resp.read()
        return self

    def stop(self) -> None:
        self._stopping.set()
        server, thread, sock = self._server, self._thread, self._sock
        self._server = self._thread = self._sock = None
        if server is not None:
            server.should_exit = True
        if thread is not None:
            thread.join(timeout=10)
        if sock is not None:
            sock.close()

    def __enter__(self) -> ScriptedLLM:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ scripting

    @property
    def calls(self) -> int:
        with self._lock:
            return len(self.requests)

    def inject(self, kind: str, *, count: int = 1, **params: Any) -> None:
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {sorted(FAULT_KINDS)}")
        if count < 1:
            raise ValueError("count must be >= 1")
        with self._lock:
            self._faults.append(_Fault(kind, count, dict(params)))

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def reset(self) -> None:
        """Forget faults, scripts and recorded requests: each test starts from a clean server."""
        with self._lock:
            self._faults.clear()
            self._scripts.clear()
            self.requests.clear()
            self.authorizations.clear()
            self.required_key = None
            self.embedded_texts = 0

    def script_json(self, match: str, obj: Any, *, count: int | None = None) -> None:
        with self._lock:
            self._scripts.append(_Script(match, json.dumps(obj), count, structured=True))

    def script_text(self, match: str, text: str, *, count: int | None = None) -> None:
        with self._lock:
            self._scripts.append(_Script(match, text, count, structured=False))

    # ------------------------------------------------------------------ app

    def _build_app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1/models", self._models, methods=["GET"]),
                Route("/models", self._models, methods=["GET"]),
                Route("/health", self._health, methods=["GET"]),
                Route("/v1/chat/completions", self._chat, methods=["POST"]),
                Route("/chat/completions", self._chat, methods=["POST"]),
                Route("/extras/tokenize", self._tokenize, methods=["POST"]),
                Route("/v1/embeddings", self._embeddings, methods=["POST"]),
                Route("/embeddings", self._embeddings, methods=["POST"]),
            ]
        )

    async def _health(self, request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def _models(self, request: Request) -> Response:
        return JSONResponse(
            {
                "object": "list",
                "data": [
                    {"id": self.model, "object": "model", "created": 0, "owned_by": "fakellm"}
                ],
            }
        )

    async def _tokenize(self, request: Request) -> Response:
        try:
            body = await request.json()
        except ValueError:
            return _error(400, "request body is not valid JSON")
        text = body.get("input", body.get("content", "")) if isinstance(body, dict) else ""
        words = str(text).split()
        # Ids only need to be stable; they mean nothing.
        return JSONResponse({"tokens": [_seed(w) % 32000 for w in words]})

    async def _embeddings(self, request: Request) -> Response:
        """OpenAI's embeddings route: a hashed bag of words per text, L2-normalised, so texts
        that share words are near and the vectors cost nothing to compute."""
        try:
            body = await request.json()
        except ValueError:
            return _error(400, "request body is not valid JSON")
        texts = body.get("input") if isinstance(body, dict) else None
        if isinstance(texts, str):
            texts = [texts]
        if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
            return _error(400, "'input' must be a string or a list of strings")
        with self._lock:
            self.embedded_texts += len(texts)
        dims = int(body.get("dimensions") or EMBEDDING_DIMENSIONS)
        data = [
            {"object": "embedding", "index": i, "embedding": _bag_of_words(text, dims)}
            for i, text in enumerate(texts)
        ]
        tokens = sum(_count_tokens(t) for t in texts)
        return JSONResponse(
            {
                "object": "list",
                "data": data,
                "model": body.get("model", self.model),
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            }
        )

    async def _chat(self, request: Request) -> Response:
        raw = await request.body()
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        given = request.headers.get("authorization", "")
        with self._lock:
            self.requests.append(body if isinstance(body, dict) else {"_invalid_body": repr(raw)})
            self.authorizations.append(given)
            request_no = len(self.requests)
        if self.required_key is not None and given != f"Bearer {self.required_key}":
            shown = given.removeprefix("Bearer ")
            return _error(401, f"Incorrect API key provided: {shown}.")
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            return _error(400, "body must be a JSON object with a 'messages' list")
        try:
            plan = self._plan(body, request_no)
        except (ValueError, KeyError, TypeError) as exc:
            return _error(400, f"cannot answer this request: {exc}")
        fault = plan.fault
        if fault is not None and fault.kind in ("delay", "hang"):
            default = 1.0 if fault.kind == "delay" else 60.0
            await self._sleep(float(fault.params.get("seconds", default)), request)
            if await request.is_disconnected():
                return Response(status_code=503)
        if fault is not None and fault.kind == "status":
            return _status_fault(int(fault.params.get("code", 500)))
        if plan.stream:
            return StreamingResponse(
                self._stream(plan, request),
                media_type="text/event-stream",
                headers={"Cache-Control": "no-cache"},
            )
        if fault is not None and fault.kind == "drop":
            await _close_connection(request)
            return Response(status_code=503)
        content, finish = _truncate(plan.content, plan.max_tokens)
        completion_tokens = _count_tokens(content)
        if self.seconds_per_token > 0:
            await self._sleep(completion_tokens * self.seconds_per_token, request)
        return JSONResponse(
            {
                "id": f"chatcmpl-fake-{plan.request_no}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": self.model,
                "system_fingerprint": "fakellm",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content},
                        "logprobs": None,
                        "finish_reason": finish,
                    }
                ],
                "usage": _usage(plan.prompt_tokens, completion_tokens),
            }
        )

    def _plan(self, body: dict[str, Any], request_no: int) -> _Plan:
        messages = [m for m in body["messages"] if isinstance(m, dict)]
        texts = [_content_text(m.get("content")) for m in messages]
        user_texts = [t for m, t in zip(messages, texts, strict=True) if m.get("role") == "user"]
        last_user = user_texts[-1] if user_texts else (texts[-1] if texts else "")
        structured, schema, schema_name = _schema_of(body.get("response_format"))
        title = schema.get("title") if schema else None
        with self._lock:
            fault = self._take_fault()
            script = self._take_script(structured, last_user, {title, schema_name} - {None})
        if script is not None:
            content = script
        elif structured:
            content = json.dumps(self._structured(schema, last_user))
        else:
            content = _prose_answer(last_user)
        if fault is not None and fault.kind == "malformed_json":
            content = _break_json(content) if structured else _garbage(last_user)
        max_tokens = body.get("max_tokens", body.get("max_completion_tokens"))
        stream_options = body.get("stream_options") or {}
        return _Plan(
            content=content,
            fault=fault,
            prompt_tokens=sum(_count_tokens(t) for t in texts),
            max_tokens=int(max_tokens) if isinstance(max_tokens, int | float) else None,
            stream=bool(body.get("stream")),
            include_usage=bool(
                isinstance(stream_options, dict) and stream_options.get("include_usage")
            ),
            request_no=request_no,
        )

    @staticmethod
    def _structured(schema: dict[str, Any] | None, prompt: str) -> Any:
        if schema is None:
            return {"answer": _prose_answer(prompt)}
        return _SchemaFaker(copy.deepcopy(schema), prompt).build()

    def _take_fault(self) -> _Fault | None:
        if not self._faults:
            return None
        head = self._faults[0]
        head.remaining -= 1
        if head.remaining <= 0:
            self._faults.pop(0)
        return head

    def _take_script(self, structured: bool, last_user: str, names: set[Any]) -> str | None:
        for script in self._scripts:
            if script.structured != structured or script.remaining == 0:
                continue
            hit = script.match in last_user or (structured and script.match in names)
            if not hit:
                continue
            if script.remaining is not None:
                script.remaining -= 1
            return script.content
        return None

    async def _sleep(self, seconds: float, request: Request | None) -> bool:
        """Sleep in slices so client disconnects and ``stop()`` end a hang promptly."""
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return True
            if self._stopping.is_set():
                return False
            if request is not None and await request.is_disconnected():
                return False
            await asyncio.sleep(min(left, 0.02))

    async def _stream(self, plan: _Plan, request: Request) -> AsyncIterator[bytes]:
        content, finish = _truncate(plan.content, plan.max_tokens)
        pieces = _pieces(content) or [""]
        drop_after = min(3, max(1, len(pieces) - 1))
        dropping = plan.fault is not None and plan.fault.kind == "drop"
        created = int(time.time())
        base = {
            "id": f"chatcmpl-fake-{plan.request_no}",
            "object": "chat.completion.chunk",
            "created": created,
            "model": self.model,
            "system_fingerprint": "fakellm",
        }
        for i, piece in enumerate(pieces):
            if (
                self.seconds_per_token > 0
                and piece
                and not await self._sleep(self.seconds_per_token, None)
            ):
                return
            delta: dict[str, Any] = {"content": piece}
            if i == 0:
                delta = {"role": "assistant", **delta}
            last = i == len(pieces) - 1
            chunk: dict[str, Any] = {
                **base,
                "choices": [
                    {
                        "index": 0,
                        "delta": delta,
                        "logprobs": None,
                        "finish_reason": finish if last else None,
                    }
                ],
            }
            if plan.include_usage:
                chunk["usage"] = None
            yield _sse(chunk)
            if dropping and i + 1 >= drop_after:
                await asyncio.sleep(0.01)  # let the chunks reach the socket first
                await _close_connection(request)
                return
        if plan.include_usage:
            usage = _usage(plan.prompt_tokens, _count_tokens(content))
            yield _sse({**base, "choices": [], "usage": usage})
        yield b"data: [DONE]\n\n"


# --------------------------------------------------------------------------- responses


def _sse(obj: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(obj).encode("utf-8") + b"\n\n"


def _usage(prompt: int, completion: int) -> dict[str, int]:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def _truncate(content: str, max_tokens: int | None) -> tuple[str, str]:
    """Honour max_tokens the way a real server does: cut output, report ``length``."""
    if max_tokens is None or _count_tokens(content) <= max_tokens:
        return content, "stop"
    return "".join(_pieces(content)[: max(0, max_tokens)]), "length"


_ERROR_TYPES = {
    400: ("invalid_request_error", None),
    401: ("authentication_error", "invalid_api_key"),
    404: ("not_found_error", None),
    408: ("timeout", None),
    429: ("rate_limit_error", "rate_limit_exceeded"),
    500: ("server_error", None),
    502: ("server_error", "bad_gateway"),
    503: ("server_error", "service_unavailable"),
    504: ("server_error", "gateway_timeout"),
}


def _error(code: int, message: str) -> Response:
    err_type, err_code = _ERROR_TYPES.get(code, ("server_error", None))
    headers = {"Retry-After": "0"} if code == 429 else None
    return JSONResponse(
        {"error": {"message": message, "type": err_type, "param": None, "code": err_code}},
        status_code=code,
        headers=headers,
    )


def _status_fault(code: int) -> Response:
    return _error(code, f"injected fault: HTTP {code}")
