"""Delivering an alert: a mail over SMTP with STARTTLS, or a JSON POST to a chat webhook.

Each call tries once and raises :class:`DeliveryError` (a sentence without any secret) when
the message did not get through; the outbox decides when to try again. Safe to repeat: a
repeated mail is a duplicate, never a lost one.
"""

from __future__ import annotations

import json
import smtplib
import ssl
import urllib.error
import urllib.request
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from paybot.config_models import NotifySettings
from paybot.errors import PaybotError


class DeliveryError(PaybotError):
    """The alert did not get through (the text names the server, never a password). The
    outbox tries again later (``retryable``)."""

    retryable = True


def mail(
    settings: NotifySettings,
    recipients: Sequence[str],
    subject: str,
    text: str,
    html: str,
    password: str | None,
) -> None:
    """Send one mail with a plain-text and an HTML part. With ``smtp_starttls`` the
    connection is encrypted (and the server's certificate checked against the system's store
    or ``smtp_ca_file``) before anything else is said; a login is refused on an unencrypted
    connection."""
    n = settings
    if not n.smtp_host:
        raise DeliveryError("no mail server (notify.smtp_host is empty)")
    if not recipients:
        raise DeliveryError("no recipients (notify.email, here or in the robot's manifest)")
    if n.smtp_username and not n.smtp_starttls:
        raise DeliveryError(
            "notify.smtp_username is set but notify.smtp_starttls is false: the password "
            "would travel unencrypted; not sent"
        )
    if n.smtp_username and not password:
        raise DeliveryError(
            "notify.smtp_username is set but no smtp_password was found "
            "(PAYBOT_SMTP_PASSWORD, the systemd credential smtp-password, or the vault)"
        )
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = n.sender
    message["To"] = ", ".join(recipients)
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = make_msgid(domain=n.sender.rsplit("@", 1)[-1])
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    where = f"{n.smtp_host}:{n.smtp_port}"
    try:
        with smtplib.SMTP(n.smtp_host, n.smtp_port, timeout=n.smtp_timeout_seconds) as smtp:
            smtp.ehlo()
            if n.smtp_starttls:
                cafile = str(n.smtp_ca_file) if n.smtp_ca_file else None
                smtp.starttls(context=ssl.create_default_context(cafile=cafile))
                smtp.ehlo()
            if n.smtp_username:
                assert password is not None
                smtp.login(n.smtp_username, password)
            refused = smtp.send_message(message)
    except smtplib.SMTPAuthenticationError as exc:
        raise DeliveryError(f"mail server {where} refused the login: {exc.smtp_code}") from None
    except (smtplib.SMTPException, ssl.SSLError, OSError) as exc:
        raise DeliveryError(f"mail server {where}: {type(exc).__name__}: {exc}") from None
    if refused:
        raise DeliveryError(f"mail server {where} refused {', '.join(sorted(refused))}")


def webhook(url: str, payload: dict[str, object], timeout: float) -> None:
    """POST ``payload`` as JSON; any answer but 2xx is a :class:`DeliveryError` (the error
    does not repeat the address, which is often a secret itself)."""
    if not url.startswith(("http://", "https://")):
        raise DeliveryError("notify.webhook_url is not an http(s) address")
    request = urllib.request.Request(  # noqa: S310 - the scheme is checked above
        url,
        data=json.dumps(payload).encode("utf-8"),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310
            status = answer.status
    except urllib.error.HTTPError as exc:
        raise DeliveryError(f"webhook answered HTTP {exc.code}") from None
    except (TimeoutError, urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DeliveryError(f"webhook not reached: {reason}") from None
    if not 200 <= status < 300:
        raise DeliveryError(f"webhook answered HTTP {status}")
