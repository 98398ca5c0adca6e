"""Encrypt endpoint API keys at rest (Fernet, key derived from the server secret)."""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from expertloop.errors import ConfigurationError


class SecretBox:
    """Encrypt and decrypt short secrets with a key derived from ``secret_key``."""

    def __init__(self, secret_key: str) -> None:
        derived = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=b"expertloop:endpoint-keys"
        ).derive(secret_key.encode())
        self._fernet = Fernet(base64.urlsafe_b64encode(derived))

    def encrypt(self, plaintext: str) -> str:
        """Return the ciphertext (ASCII) of ``plaintext``."""
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, ciphertext: str) -> str:
        """Return the plaintext, or raise ``ConfigurationError`` if the secret key changed."""
        try:
            return self._fernet.decrypt(ciphertext.encode()).decode()
        except InvalidToken as exc:
            raise ConfigurationError(
                "A stored API key cannot be decrypted: EXPERTLOOP_SECRET_KEY changed. "
                "Set the key again for this endpoint."
            ) from exc
