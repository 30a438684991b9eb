"""Secrets at rest (storage credentials today, notification targets later): sealed with a key
derived from SECRET_KEY, so a copy of the database alone does not give them away.

- `seal(text)` returns `fernet1:<token>`: Fernet (AES-128-CBC with an HMAC-SHA256, from the
  `cryptography` package) under a key derived from SECRET_KEY with HKDF-SHA256 and the fixed info
  string `INFO`. The prefix tells a sealed value from a plain one and leaves room for a new scheme.
- `unseal(sealed)` returns the text, or raises `Unreadable` when neither SECRET_KEY nor one of
  SECRET_KEY_FALLBACKS opens it. Rotate a key by moving the old one to SECRET_KEY_FALLBACKS: old
  values stay readable and are sealed with the new key when next saved.
- `SealedField` is a text column whose value is sealed on every write (save, update, bulk_create).
  The attribute holds the sealed text once saved; read the plaintext only with `reveal()`, from
  one accessor on the model (e.g. `StorageLocation.credentials()`).

Sealing uses a random IV, so the same text seals differently each time: a sealed column cannot
be filtered on or made unique.
"""

from __future__ import annotations

import base64
import functools

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.db import models

__all__ = ["PREFIX", "SealedField", "Unreadable", "is_sealed", "reveal", "seal", "unseal"]

PREFIX = "fernet1:"
INFO = b"veloweb sealed values v1"
UNREADABLE_MESSAGE = "credentials cannot be decrypted: SECRET_KEY changed? Enter them again."


class Unreadable(ValueError):
    """A sealed value that no configured key opens (SECRET_KEY changed), or that is damaged."""

    def __init__(self, message: str = UNREADABLE_MESSAGE):
        super().__init__(message)


def _derive(secret_key: str) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=INFO)
    return base64.urlsafe_b64encode(hkdf.derive(secret_key.encode()))


@functools.lru_cache(maxsize=4)
def _fernet(secret_key: str, fallbacks: tuple[str, ...]) -> MultiFernet:
    """Encrypts with the first key, decrypts with any (HKDF is cheap, but not free per value)."""
    return MultiFernet([Fernet(_derive(key)) for key in (secret_key, *fallbacks)])


def _keys() -> MultiFernet:
    return _fernet(settings.SECRET_KEY, tuple(getattr(settings, "SECRET_KEY_FALLBACKS", ())))


def is_sealed(value: str | None) -> bool:
    return bool(value) and value.startswith(PREFIX)


def seal(text: str) -> str:
    """`text` sealed; "" stays "" (nothing stored), a sealed value is returned as it is."""
    if not text or is_sealed(text):
        return text
    return PREFIX + _keys().encrypt(text.encode()).decode("ascii")


def unseal(sealed: str) -> str:
    """The text of a sealed value; raises `Unreadable` if no configured key opens it."""
    if not sealed:
        return ""
    if not is_sealed(sealed):
        raise Unreadable("not a sealed value")
    try:
        return _keys().decrypt(sealed[len(PREFIX) :].encode("ascii")).decode()
    except (InvalidToken, UnicodeError) as error:
        raise Unreadable() from error


def reveal(value: str | None) -> str:
    """The plaintext of a `SealedField` attribute: unsealed when saved, as assigned when not yet."""
    if not value:
        return ""
    return unseal(value) if is_sealed(value) else value


class SealedField(models.TextField):
    """A text column stored sealed (see the module docstring). Saving seals the attribute too, so
    an instance never keeps plaintext once written."""

    def pre_save(self, model_instance, add):
        value = seal(getattr(model_instance, self.attname) or "")
        setattr(model_instance, self.attname, value)
        return value

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        return seal(value) if value else value
