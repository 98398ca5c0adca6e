"""Outgoing mail behind one small interface: ``Mailer.send(message)``.

Two implementations, chosen by ``settings.mail_backend``: ``FileMailer`` writes each message as
an RFC 5322 ``.eml`` file into ``<data_dir>/mail/`` (the demo's default: nothing is lost when no
mail server exists) and ``SmtpMailer`` sends it through ``smtp_host`` (STARTTLS, login when a
username is set). Messages carry a ``Message-ID``; the file mailer names its files after it and
does not write the same message twice, so a retried send is a no-op.

Mail bodies may hold one-time links: nothing here logs a body, the SMTP password is never
logged or put into an error message, and the file mailer's files are readable by their owner
only (0600); using the file backend outside development, demo or test logs a warning.
"""

from __future__ import annotations

import logging
import os
import re
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Protocol

from expertloop.settings import Settings

log = logging.getLogger("expertloop.mail")

_WARNED: set[Path] = set()  # mail folders warned about (once a process each)
_SAFE_FILE = re.compile(r"[^A-Za-z0-9._-]+")


class MailError(Exception):
    """The message could not be handed over (the reason, never a secret)."""


@dataclass(frozen=True)
class Message:
    """One outgoing plain-text message; ``message_id`` (``<…@…>``) makes sending idempotent."""

    to: str
    subject: str
    text: str
    message_id: str | None = None
    reply_to: str | None = None


class Mailer(Protocol):
    """Hands messages over; ``send`` returns False when the message was already sent."""

    def send(self, message: Message) -> bool:
        """Send one message."""
        ...


def _one_line(value: str) -> str:
    """Collapse whitespace (newlines included) to single spaces: a header is one line."""
    return " ".join(value.split())


def build(message: Message, *, sender: str) -> EmailMessage:
    """Return the RFC 5322 message for ``message`` sent by ``sender``."""
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = _one_line(message.to)
    mail["Subject"] = _one_line(message.subject)
    mail["Date"] = formatdate(localtime=False, usegmt=True)
    mail["Message-ID"] = message.message_id or make_msgid(domain="expertloop.local")
    if message.reply_to:
        mail["Reply-To"] = _one_line(message.reply_to)
    mail.set_content(message.text)
    return mail


def _file_name(message_id: str) -> str:
    return _SAFE_FILE.sub("_", message_id.strip("<>"))[:180] + ".eml"


class FileMailer:
    """Write messages as ``.eml`` files into a directory (made when missing)."""

    def __init__(self, directory: Path, *, sender: str) -> None:
        self.directory = directory
        self.sender = sender

    def send(self, message: Message) -> bool:
        """Write the message; False when a file for its Message-ID already exists."""
        mail = build(message, sender=self.sender)
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / _file_name(str(mail["Message-ID"]))
        try:
            # O_EXCL: a second send of the same message is refused; 0600: the files hold live
            # one-time links, so only the service's own user reads them.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return False
        with os.fdopen(fd, "wb") as out:
            out.write(mail.as_bytes())
        log.info("mail written to %s", path.name)
        return True


class SmtpMailer:
    """Send messages through an SMTP server (STARTTLS first when asked, login when set)."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        sender: str,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = True,
        timeout: float = 30.0,
    ) -> None:
        self.host = host
        self.port = port
        self.sender = sender
        self.username = username
        self._password = password
        self.starttls = starttls
        self.timeout = timeout

    def __repr__(self) -> str:
        # Never the password.
        return f"SmtpMailer(host={self.host!r}, port={self.port}, username={self.username!r})"

    def send(self, message: Message) -> bool:
        """Send the message; raise ``MailError`` (without secrets) when the server refuses."""
        mail = build(message, sender=self.sender)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                smtp.ehlo()
                if self.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                    smtp.ehlo()
                if self.username:
                    smtp.login(self.username, self._password or "")
                smtp.send_message(mail)
        except smtplib.SMTPAuthenticationError as exc:
            raise MailError(
                f"The SMTP server {self.host}:{self.port} refused the login of "
                f"{self.username!r} (code {exc.smtp_code})."
            ) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise MailError(
                f"Could not send mail through {self.host}:{self.port}: {type(exc).__name__}."
            ) from None
        log.info("mail sent through %s:%s", self.host, self.port)
        return True


def mail_dir(settings: Settings) -> Path:
    """Return where the file backend writes its ``.eml`` files."""
    return settings.data_dir / "mail"


def mailer_from_settings(settings: Settings) -> Mailer:
    """Return the mailer the settings choose (``mail_backend`` file or smtp)."""
    if settings.mail_backend == "smtp":
        password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
        return SmtpMailer(
            host=settings.smtp_host,
            port=settings.smtp_port,
            sender=settings.mail_from,
            username=settings.smtp_username,
            password=password,
            starttls=settings.smtp_starttls,
        )
    directory = mail_dir(settings)
    if not settings.is_dev_like and directory not in _WARNED:
        _WARNED.add(directory)
        log.warning(
            "mail_backend is 'file' in env %s: mail is not sent, only written to %s, and those "
            "files hold live invitation and sign-in links; use mail_backend=smtp",
            settings.env,
            directory,
        )
    return FileMailer(directory, sender=settings.mail_from)
