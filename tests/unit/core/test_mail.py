"""Outgoing mail: the file backend writes parseable RFC 5322 .eml files (once per Message-ID);
the SMTP backend speaks SMTP to a real (tiny, local) server, upgrades with STARTTLS and logs in
when configured, and never shows the password (repr, errors, logs)."""

from __future__ import annotations

import email
import email.policy
import logging
import smtplib
import socketserver
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from expertloop.mail import (
    FileMailer,
    MailError,
    Message,
    SmtpMailer,
    mail_dir,
    mailer_from_settings,
)
from expertloop.settings import Settings

SENDER = "ExpertLoop <no-reply@expertloop.test>"


def _parse(path: Path) -> email.message.EmailMessage:
    parsed = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert isinstance(parsed, email.message.EmailMessage)
    return parsed


def test_file_mailer_writes_a_parseable_eml(tmp_path: Path) -> None:
    mailer = FileMailer(tmp_path / "mail", sender=SENDER)
    text = "Hello Ada,\n\nOpen https://x.test/join/abc to apply.\nÜmlauts and عربي too.\n"
    assert mailer.send(Message(to="ada@example.org", subject="Welcome — join", text=text))
    files = list((tmp_path / "mail").glob("*.eml"))
    assert len(files) == 1
    parsed = _parse(files[0])
    assert parsed["To"] == "ada@example.org"
    assert parsed["From"] == SENDER
    assert parsed["Subject"] == "Welcome — join"
    assert parsed["Message-ID"].startswith("<") and parsed["Date"]
    body = parsed.get_body(preferencelist=("plain",))
    assert body is not None and body.get_content() == text


def test_file_mailer_sends_one_message_id_once(tmp_path: Path) -> None:
    mailer = FileMailer(tmp_path, sender=SENDER)
    message = Message(to="b@example.org", subject="S", text="T", message_id="<inv-1-ab@el>")
    assert mailer.send(message) is True
    assert mailer.send(message) is False  # a retry writes nothing new
    assert [p.name for p in tmp_path.glob("*.eml")] == ["inv-1-ab_el.eml"]
    other = Message(to="b@example.org", subject="S", text="T", message_id="<inv-2-cd@el>")
    assert mailer.send(other) is True
    assert len(list(tmp_path.glob("*.eml"))) == 2


class _SmtpHandler(socketserver.StreamRequestHandler):
    """Just enough SMTP (RFC 5321) to take one message: EHLO, MAIL, RCPT, DATA, QUIT."""

    def _say(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")

    def handle(self) -> None:
        server: Any = self.server
        self._say("220 fake.smtp ready")
        while True:
            raw = self.rfile.readline()
            if not raw:
                return
            line = raw.decode().rstrip("\r\n")
            verb = line.split(" ", 1)[0].upper()
            server.commands.append(line)
            if verb in ("EHLO", "HELO"):
                self._say("250-fake.smtp")
                self._say("250 8BITMIME")
            elif verb in ("MAIL", "RCPT", "RSET", "NOOP"):
                self._say("250 OK")
            elif verb == "DATA":
                self._say("354 go on")
                data = b""
                while not data.endswith(b"\r\n.\r\n"):
                    chunk = self.rfile.readline()
                    if not chunk:
                        return
                    data += chunk
                server.messages.append(data[:-5])
                self._say("250 queued")
            elif verb == "QUIT":
                self._say("221 bye")
                return
            else:
                self._say("502 not implemented")


@pytest.fixture
def smtp_server() -> Iterator[Any]:
    server: Any = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _SmtpHandler)
    server.daemon_threads = True
    server.commands, server.messages = [], []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def test_smtp_mailer_delivers_to_a_real_socket(smtp_server: Any) -> None:
    port = smtp_server.server_address[1]
    mailer = SmtpMailer(host="127.0.0.1", port=port, sender=SENDER, starttls=False, timeout=5)
    assert mailer.send(Message(to="carla@example.org", subject="Invite", text="Link: x\n"))
    assert any(
        c.upper().startswith("MAIL FROM:<NO-REPLY@EXPERTLOOP.TEST>") for c in smtp_server.commands
    )
    assert any(c.upper().startswith("RCPT TO:<CARLA@EXAMPLE.ORG>") for c in smtp_server.commands)
    parsed = email.message_from_bytes(smtp_server.messages[0], policy=email.policy.default)
    assert parsed["Subject"] == "Invite" and parsed["To"] == "carla@example.org"


def test_smtp_mailer_reports_a_dead_server_without_secrets() -> None:
    mailer = SmtpMailer(
        host="127.0.0.1", port=1, sender=SENDER, username="u", password="hunter2-secret",
        starttls=False, timeout=2,
    )  # fmt: skip
    with pytest.raises(MailError) as caught:
        mailer.send(Message(to="a@example.org", subject="S", text="T"))
    assert "127.0.0.1:1" in str(caught.value)
    assert "hunter2" not in str(caught.value) and "hunter2" not in repr(mailer)


class _FakeSMTP:
    """Records what the mailer asks of smtplib.SMTP."""

    calls: list[tuple[str, Any]] = []
    refuse_login = False

    def __init__(self, host: str, port: int, timeout: float) -> None:
        self.calls.append(("connect", (host, port)))

    def __enter__(self) -> _FakeSMTP:
        return self

    def __exit__(self, *exc: object) -> None:
        self.calls.append(("quit", None))

    def ehlo(self) -> None:
        self.calls.append(("ehlo", None))

    def starttls(self, context: Any = None) -> None:
        self.calls.append(("starttls", context is not None))

    def login(self, user: str, password: str) -> None:
        if self.refuse_login:
            raise smtplib.SMTPAuthenticationError(535, b"bad credentials")
        self.calls.append(("login", (user, password)))

    def send_message(self, message: Any) -> None:
        self.calls.append(("send", message["To"]))


def test_smtp_mailer_starttls_then_login(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    _FakeSMTP.calls = []
    _FakeSMTP.refuse_login = False
    monkeypatch.setattr(smtplib, "SMTP", _FakeSMTP)
    settings = Settings(
        mail_backend="smtp", smtp_host="mail.example.org", smtp_port=2525,
        smtp_username="bot", smtp_password=SecretStr("hunter2-secret"), mail_from=SENDER,
    )  # fmt: skip
    mailer = mailer_from_settings(settings)
    assert isinstance(mailer, SmtpMailer)
    with caplog.at_level(logging.DEBUG):
        mailer.send(Message(to="d@example.org", subject="S", text="T"))
    names = [c[0] for c in _FakeSMTP.calls]
    assert names == ["connect", "ehlo", "starttls", "ehlo", "login", "send", "quit"]
    assert _FakeSMTP.calls[0][1] == ("mail.example.org", 2525)
    assert ("login", ("bot", "hunter2-secret")) in _FakeSMTP.calls
    assert "hunter2" not in caplog.text and "hunter2" not in repr(mailer)

    _FakeSMTP.calls = []
    _FakeSMTP.refuse_login = True
    with pytest.raises(MailError) as caught:
        mailer.send(Message(to="d@example.org", subject="S", text="T"))
    assert "refused the login" in str(caught.value) and "hunter2" not in str(caught.value)


def test_smtp_without_starttls_or_username_skips_both(monkeypatch: pytest.MonkeyPatch) -> None:
    _FakeSMTP.calls = []
    _FakeSMTP.refuse_login = False
    monkeypatch.setattr(smtplib, "SMTP", _FakeSMTP)
    mailer = mailer_from_settings(Settings(mail_backend="smtp", smtp_starttls=False))
    mailer.send(Message(to="e@example.org", subject="S", text="T"))
    assert [c[0] for c in _FakeSMTP.calls] == ["connect", "ehlo", "send", "quit"]


def test_file_backend_is_the_default_under_data_dir(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    mailer = mailer_from_settings(settings)
    assert isinstance(mailer, FileMailer)
    assert mailer.directory == mail_dir(settings) == tmp_path / "mail"


def test_file_mailer_files_are_private_and_headers_one_line(tmp_path: Path) -> None:
    """.eml files hold live links: mode 0600; a newline in a subject cannot break the header."""
    mailer = FileMailer(tmp_path / "mail", sender=SENDER)
    message = Message(to="a@example.org", subject="Ada\nBcc: x@evil.example", text="T")
    assert mailer.send(message)
    [path] = list((tmp_path / "mail").glob("*.eml"))
    assert path.stat().st_mode & 0o777 == 0o600
    parsed = _parse(path)
    assert parsed["Subject"] == "Ada Bcc: x@evil.example" and parsed["Bcc"] is None


def test_file_backend_outside_dev_warns_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="expertloop.mail"):
        mailer_from_settings(Settings(data_dir=tmp_path, env="test"))
        assert not caplog.records
        prod = Settings(data_dir=tmp_path / "prod", env="production", secret_key="s" * 40)
        mailer_from_settings(prod)
        mailer_from_settings(prod)
    assert len(caplog.records) == 1 and "live invitation" in caplog.records[0].getMessage()
