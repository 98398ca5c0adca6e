"""Random tokens and their stored hashes."""

from __future__ import annotations

import hashlib
import secrets


def new_token(prefix: str = "") -> str:
    """Return a fresh high-entropy token (256 bits), optionally prefixed."""
    return prefix + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """Return the SHA-256 hex digest stored in place of a token.

    A plain digest is enough: the tokens carry 256 random bits, so there is nothing to brute-force.
    """
    return hashlib.sha256(token.encode()).hexdigest()
