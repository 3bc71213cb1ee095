"""The project's exception hierarchy; each docstring is the message."""

from __future__ import annotations


class YouthLinkError(Exception):
    """Something went wrong in YouthLink."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or (self.__doc__ or "").strip())


class ConfigurationError(YouthLinkError):
    """The deployment's configuration is incomplete or invalid."""


class DecryptionError(YouthLinkError):
    """A stored value could not be decrypted with any configured key."""
