"""Field encryption (MultiFernet: the first key encrypts, all decrypt) and keyed lookup hashes."""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from youthlink.errors import ConfigurationError, DecryptionError


def new_key() -> str:
    """A fresh random Fernet key as text."""
    return Fernet.generate_key().decode("ascii")


@dataclass(frozen=True)
class Cipher:
    """Encrypts and decrypts personal fields; computes keyed hashes for lookups."""

    fernet: MultiFernet
    hash_key: bytes

    @classmethod
    def from_keys(cls, keys: Sequence[str], hash_key: str) -> Cipher:
        """Build from Fernet keys (newest first) and the secret for lookup hashes."""
        if not keys:
            raise ConfigurationError("no encryption keys configured (YOUTHLINK_ENCRYPTION_KEYS)")
        if not hash_key:
            raise ConfigurationError("no hash key configured (YOUTHLINK_HASH_KEY)")
        try:
            fernets = [Fernet(k.encode("ascii")) for k in keys]
        except (ValueError, TypeError) as exc:
            raise ConfigurationError("an encryption key is not a valid Fernet key") from exc
        return cls(MultiFernet(fernets), hash_key.encode("utf-8"))

    def encrypt(self, value: str | None) -> bytes | None:
        """Encrypt text; None stays None."""
        if value is None:
            return None
        return self.fernet.encrypt(value.encode("utf-8"))

    def decrypt(self, token: bytes | None) -> str | None:
        """Decrypt a stored token; None stays None."""
        if token is None:
            return None
        try:
            return self.fernet.decrypt(bytes(token)).decode("utf-8")
        except InvalidToken as exc:
            raise DecryptionError() from exc

    def rotate(self, token: bytes) -> bytes:
        """Re-encrypt a token under the first (newest) key."""
        try:
            return self.fernet.rotate(bytes(token))
        except InvalidToken as exc:
            raise DecryptionError() from exc

    def lookup_hash(self, *parts: str) -> str:
        """A keyed hash (HMAC-SHA256, hex) of the parts, for finding rows without storing values."""
        message = "\x1f".join(parts).encode("utf-8")
        # The one-shot form: the same digest without building an HMAC object (once per message).
        return hmac.digest(self.hash_key, message, "sha256").hex()
