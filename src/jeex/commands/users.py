"""``jeex users``, ``jeex apikeys`` and ``jeex tenants``: local accounts, API keys, quotas."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Annotated

import typer

from jeex.auth import service as auth_service
from jeex.cli_support import guarded, print_json, settings_or_exit, stdout, with_database
from jeex.db.session import Database
from jeex.errors import InvalidInput, NotFound
from jeex.runtime import Runtime
from jeex.tenants import quotas
from jeex.tenants import service as tenants_service

users_app = typer.Typer(help="Local user accounts.", no_args_is_help=True)
apikeys_app = typer.Typer(help="API keys (sent as Authorization: Bearer).", no_args_is_help=True)
EmailOption = Annotated[str, typer.Option(help="The user's email.")]
TenantOption = Annotated[str, typer.Option(help="Tenant slug (created when missing).")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]


def _valid_email(email: str) -> str:
    email = email.strip().lower()
    if "@" not in email or len(email) > 320 or " " in email:
        raise InvalidInput(f"{email!r} is not an email address")
    return email


def _valid_slug(slug: str) -> str:
    from slugify import slugify

    if not slug or slugify(slug, max_length=63) != slug:
        raise InvalidInput(f"{slug!r} is not a tenant slug (lowercase letters, digits, dashes)")
    return slug


@users_app.command("create")
def users_create(
    email: EmailOption,
    tenant: TenantOption,
    password: Annotated[
        str,
        typer.Option(
            prompt=True, hide_input=True, confirmation_prompt=True, envvar="JEEX_USER_PASSWORD"
        ),
    ],
    role: Annotated[str, typer.Option(help="owner, admin, editor or viewer.")] = "owner",
    json_output: JsonOption = False,
) -> None:
    """Create (or update the password of) a local account in a tenant."""
    settings = settings_or_exit()
    email, tenant = guarded(lambda: (_valid_email(email), _valid_slug(tenant)))
    if role not in auth_service.ROLES:
        guarded(lambda: _bad_role(role))
    if len(password) < 8:
        guarded(lambda: _short_password())

    user = with_database(
        settings,
        lambda _runtime, db: auth_service.create_user(
            db, email=email, password=password, tenant_slug=tenant, role=role
        ),
    )
    document = {"user_id": str(user.user_id), "tenant_id": str(user.tenant_id), "email": email}
    if json_output:
        print_json(document)
    else:
        stdout.print(f"user {email} in tenant {tenant} ({user.user_id})", highlight=False)


def _bad_role(role: str) -> None:
    raise InvalidInput(f"unknown role {role!r}; use owner, admin, editor or viewer")


def _short_password() -> None:
    raise InvalidInput("the password needs at least 8 characters")


@apikeys_app.command("create")
def apikeys_create(
    tenant: TenantOption,
    email: EmailOption,
    name: Annotated[str, typer.Option(help="A label for the key.")] = "",
    json_output: JsonOption = False,
) -> None:
    """Create an API key (tenant and user are created when missing); printed once."""
    settings = settings_or_exit()
    email, tenant = guarded(lambda: (_valid_email(email), _valid_slug(tenant)))

    key, key_uuid = with_database(
        settings,
        lambda _runtime, db: auth_service.create_api_key(
            db, tenant_slug=tenant, email=email, name=name
        ),
    )
    key_id = str(key_uuid)
    if json_output:
        print_json({"key": key, "id": key_id, "tenant": tenant, "email": email})
    else:
        stdout.print(key, highlight=False, soft_wrap=True)
        stdout.print("Store it now: it is shown only once.", highlight=False, style="dim")


@apikeys_app.command("revoke")
def apikeys_revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id (printed by create --json).")],
    tenant: TenantOption,
) -> None:
    """Revoke an API key: the next request with it is refused."""
    settings = settings_or_exit()
    tenant = guarded(lambda: _valid_slug(tenant))
    parsed_id = guarded(lambda: _key_id(key_id))

    revoked = with_database(
        settings,
        lambda _runtime, db: auth_service.revoke_api_key_in(
            db, tenant_slug=tenant, key_id=parsed_id
        ),
    )
    if not revoked:
        guarded(lambda: _no_such_key(key_id))
    stdout.print(f"API key {key_id} revoked", highlight=False)


def _key_id(text: str) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError:
        raise InvalidInput(f"{text!r} is not a key id") from None


def _no_such_key(key_id: str) -> None:
    raise NotFound(f"no live API key {key_id} in that tenant")


tenants_app = typer.Typer(help="Tenants: quotas an operator sets.", no_args_is_help=True)
QuotaInt = Annotated[int | None, typer.Option(min=0, help="Unset: keep; see --default.")]
QuotaMoney = Annotated[float | None, typer.Option(min=0, help="In the LLM price's currency.")]


@tenants_app.command("quota")
def tenants_quota(
    tenant: Annotated[str, typer.Argument(help="Tenant slug.")],
    tokens_per_day: QuotaInt = None,
    tokens_per_month: QuotaInt = None,
    cost_per_day: QuotaMoney = None,
    cost_per_month: QuotaMoney = None,
    concurrent_runs: QuotaInt = None,
    exhibit_bytes: QuotaInt = None,
    exhibit_passages: QuotaInt = None,
    default: Annotated[
        list[str] | None,
        typer.Option(help="Back to the installation's default (JEEX_QUOTA_*) for this quota."),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Set a tenant's own quotas (given ones only), then print them with its use."""
    settings = settings_or_exit()
    tenant = guarded(lambda: _valid_slug(tenant))
    given: dict[str, int | Decimal | None] = {
        name: (Decimal(str(value)) if isinstance(value, float) else value)
        for name, value in {
            "tokens_per_day": tokens_per_day,
            "tokens_per_month": tokens_per_month,
            "cost_per_day": cost_per_day,
            "cost_per_month": cost_per_month,
            "concurrent_runs": concurrent_runs,
            "exhibit_bytes": exhibit_bytes,
            "exhibit_passages": exhibit_passages,
        }.items()
        if value is not None
    }
    unknown = [name for name in default or [] if name not in quotas.FIELDS]
    if unknown:
        guarded(lambda: _unknown_quota(unknown[0]))
    given.update(dict.fromkeys(default or []))

    async def work(_runtime: Runtime, db: Database) -> list[quotas.QuotaRow]:
        async with db.global_session() as session:
            found = await tenants_service.get_tenant_by_slug(session, slug=tenant)
        if found is None:
            raise NotFound(f"no tenant {tenant!r}")
        async with db.tenant_session(found) as session:
            if given:
                await quotas.set_override(session, values=given)
            limits = await quotas.limits_of(session, settings)
            return quotas.as_rows(limits, await quotas.usage_of(session, settings))

    rows = with_database(settings, work)
    if json_output:
        print_json([vars(row) for row in rows])
        return
    for row in rows:
        limit = "no limit" if row.limit is None else f"{row.limit:g}"
        stdout.print(f"{row.label}: {row.used:g} used of {limit}", highlight=False)


def _unknown_quota(name: str) -> None:
    raise InvalidInput(f"no quota {name!r}; use one of {', '.join(quotas.FIELDS)}")
