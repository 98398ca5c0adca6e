"""SecretBox: API keys encrypted at rest with a key derived from the server secret."""

from __future__ import annotations

import pytest

from expertloop.errors import ConfigurationError
from expertloop.llm.secrets_box import SecretBox

SECRET = "server-secret-key-that-is-long-enough-0123456789"
API_KEY = "sk-live-abcdef0123456789"


def test_round_trip() -> None:
    box = SecretBox(SECRET)

    assert box.decrypt(box.encrypt(API_KEY)) == API_KEY
    assert box.decrypt(box.encrypt("")) == ""
    assert box.decrypt(box.encrypt("clé 🙂")) == "clé 🙂"


def test_a_new_box_with_the_same_secret_decrypts() -> None:
    assert SecretBox(SECRET).decrypt(SecretBox(SECRET).encrypt(API_KEY)) == API_KEY


def test_ciphertext_hides_the_plaintext() -> None:
    box = SecretBox(SECRET)
    first, second = box.encrypt(API_KEY), box.encrypt(API_KEY)

    assert API_KEY not in first
    assert "abcdef" not in first
    assert first.isascii()
    assert first != second  # a fresh nonce each time


def test_another_secret_cannot_decrypt() -> None:
    token = SecretBox(SECRET).encrypt(API_KEY)

    with pytest.raises(ConfigurationError, match="cannot be decrypted"):
        SecretBox(SECRET + "x").decrypt(token)


@pytest.mark.parametrize("garbage", ["", "not-a-token", "gAAAAAB" + "A" * 80])
def test_garbage_cannot_be_decrypted(garbage: str) -> None:
    with pytest.raises(ConfigurationError):
        SecretBox(SECRET).decrypt(garbage)


def test_tampered_ciphertext_is_refused() -> None:
    box = SecretBox(SECRET)
    token = box.encrypt(API_KEY)
    tampered = token[:-6] + ("A" if token[-6] != "A" else "B") + token[-5:]

    with pytest.raises(ConfigurationError):
        box.decrypt(tampered)
