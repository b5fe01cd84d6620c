"""Outgoing mail (invitations) over SMTP, when ``JEEX_SMTP_HOST`` is set.

Mail is a convenience on top of the link the inviter is shown: a failure to send is
reported to the inviter, never a failed invitation. ``smtplib`` blocks, so sending runs
in a thread; one connection per letter, as invitations are rare.
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage

import structlog

from jeex.config import Settings

log = structlog.get_logger("jeex.mail")


@dataclass(frozen=True)
class Letter:
    to: str
    subject: str
    text: str


def configured(settings: Settings) -> bool:
    return bool(settings.smtp_host)


def _send(settings: Settings, letter: Letter) -> None:
    # Headers unfolded up to SMTP's own limit: a folded Subject reads with a stray space.
    message = EmailMessage(policy=policy.SMTP.clone(max_line_length=998))
    message["From"] = settings.smtp_from
    message["To"] = letter.to
    message["Subject"] = letter.subject
    message.set_content(letter.text)
    host, port = settings.smtp_host or "", settings.smtp_port
    timeout = settings.smtp_timeout_seconds
    context = ssl.create_default_context()
    smtp: smtplib.SMTP
    if settings.smtp_security == "tls":
        smtp = smtplib.SMTP_SSL(host, port, timeout=timeout, context=context)
    else:
        smtp = smtplib.SMTP(host, port, timeout=timeout)
    with smtp:
        if settings.smtp_security == "starttls":
            smtp.starttls(context=context)
        if settings.smtp_username:
            password = settings.smtp_password.get_secret_value() if settings.smtp_password else ""
            smtp.login(settings.smtp_username, password)
        smtp.send_message(message)


async def send(settings: Settings, letter: Letter) -> str | None:
    """Send the letter; None when it left, else the reason in one sentence."""
    try:
        await asyncio.to_thread(_send, settings, letter)
    except (OSError, smtplib.SMTPException) as failure:
        log.warning("mail.failed", to=letter.to, error=type(failure).__name__)
        return f"the mail could not be sent ({type(failure).__name__}): hand over the link yourself"
    log.info("mail.sent", to=letter.to)
    return None
