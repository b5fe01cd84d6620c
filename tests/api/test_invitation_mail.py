"""Invitations by mail: with ``JEEX_SMTP_HOST`` set the link is also mailed, through a
real SMTP server on loopback (aiosmtpd) that asks for a login; when the server cannot be
reached the invitation still stands and the inviter is told the mail did not leave."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from pydantic import SecretStr

from jeex.config import Settings
from support.api import Caller

USER, PASSWORD = "jeex", "smtp-secret-password"
# Loopback only: AUTH without TLS is what this test server is for.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


class Inbox:
    """What the SMTP server received, as parsed messages."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.stopped = False

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        parsed = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        return "250 OK"


def _login(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
        USER.encode(),
        PASSWORD.encode(),
    )
    return AuthResult(success=ok)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, Controller]]:
    box = Inbox()
    controller = Controller(
        box,
        hostname="127.0.0.1",
        port=_free_port(),
        authenticator=_login,
        auth_required=True,
        auth_require_tls=False,
    )
    controller.start()
    try:
        yield box, controller
    finally:
        if not box.stopped:
            controller.stop()


@pytest.fixture
def api_settings(api_settings: Settings, inbox: tuple[Inbox, Controller]) -> Settings:
    return api_settings.model_copy(
        update={
            "smtp_host": "127.0.0.1",
            "smtp_port": inbox[1].port,
            "smtp_security": "none",
            "smtp_username": USER,
            "smtp_password": SecretStr(PASSWORD),
            "smtp_from": "JEEX Plan <jeex@example.test>",
        }
    )


async def test_the_link_is_mailed_and_still_shown(
    client: httpx.AsyncClient, alice: Caller, inbox: tuple[Inbox, Controller]
) -> None:
    box, controller = inbox
    made = await client.post(
        "/api/v1/invitations",
        json={"email": "cora@example.test", "role": "viewer"},
        headers=alice.headers,
    )
    assert made.status_code == 201, made.text
    body = made.json()
    assert (body["mail_sent"], body["mail_error"]) == (True, None)
    [letter] = box.messages
    assert letter["To"] == "cora@example.test"
    assert letter["From"] == "JEEX Plan <jeex@example.test>"
    assert letter["Subject"] == f"{alice.email} invites you to {alice.tenant_slug} on JEEX Plan"
    text = letter.get_content()
    assert body["link"] in text
    assert "as viewer" in text

    # The server goes away: the invitation is made all the same, and the inviter is told.
    controller.stop()
    box.stopped = True
    second = await client.post(
        "/api/v1/invitations", json={"email": "dan@example.test"}, headers=alice.headers
    )
    assert second.status_code == 201, second.text
    assert second.json()["mail_sent"] is False
    assert "could not be sent" in second.json()["mail_error"]
    preview = await client.post(
        "/api/v1/invitations/preview", json={"token": second.json()["token"]}
    )
    assert preview.status_code == 200
