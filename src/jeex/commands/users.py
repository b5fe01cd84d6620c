"""``jeex users create`` and ``jeex apikeys create``: local accounts and API keys."""

from __future__ import annotations

import uuid
from typing import Annotated

import typer

from jeex.auth import service as auth_service
from jeex.cli_support import guarded, print_json, settings_or_exit, stdout, with_database
from jeex.errors import InvalidInput, NotFound

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
    role: Annotated[str, typer.Option(help="owner, editor or viewer.")] = "owner",
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
    raise InvalidInput(f"unknown role {role!r}; use owner, editor or viewer")


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
