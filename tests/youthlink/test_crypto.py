from __future__ import annotations

import hashlib
import hmac

import pytest

from youthlink.crypto import Cipher, new_key
from youthlink.errors import ConfigurationError, DecryptionError

pytestmark = pytest.mark.unit


def test_round_trip_and_ciphertext_hides_text() -> None:
    cipher = Cipher.from_keys([new_key()], "hash-secret")
    token = cipher.encrypt("+447700900123 feels low")
    assert token is not None and b"447700900123" not in token
    assert cipher.decrypt(token) == "+447700900123 feels low"
    assert cipher.encrypt(None) is None and cipher.decrypt(None) is None


def test_rotation_new_key_first_old_keys_still_decrypt() -> None:
    old, new = new_key(), new_key()
    before = Cipher.from_keys([old], "h")
    token = before.encrypt("own words")
    assert token is not None
    after = Cipher.from_keys([new, old], "h")
    assert after.decrypt(token) == "own words"
    rotated = after.rotate(token)
    assert Cipher.from_keys([new], "h").decrypt(rotated) == "own words"
    with pytest.raises(DecryptionError):
        before.decrypt(rotated)


def test_lookup_hash_is_keyed_and_stable() -> None:
    a = Cipher.from_keys([new_key()], "secret-a")
    b = Cipher.from_keys([new_key()], "secret-b")
    assert a.lookup_hash("sms", "+447700900123") == a.lookup_hash("sms", "+447700900123")
    assert a.lookup_hash("sms", "+447700900123") != b.lookup_hash("sms", "+447700900123")
    assert a.lookup_hash("sms", "+447700900123") != a.lookup_hash("telegram", "+447700900123")
    assert "447700900123" not in a.lookup_hash("sms", "+447700900123")
    # Stored hashes must keep matching: HMAC-SHA256 over the parts joined by a unit separator.
    expected = hmac.new(a.hash_key, b"sms\x1f+447700900123", hashlib.sha256).hexdigest()
    assert a.lookup_hash("sms", "+447700900123") == expected


@pytest.mark.parametrize(("keys", "hash_key"), [([], "h"), (["not-a-key"], "h"), ([new_key()], "")])
def test_bad_key_material_is_refused(keys: list[str], hash_key: str) -> None:
    with pytest.raises(ConfigurationError):
        Cipher.from_keys(keys, hash_key)
