"""The privacy notice shown in chat (data: youthlink/privacy_notice.yml), by age band."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

DATA_FILE = Path(__file__).resolve().parents[1] / "youthlink" / "privacy_notice.yml"
UNKNOWN_BAND = "unknown"


@dataclass(frozen=True)
class PrivacyNotice:
    """One version of the notice: its texts, and which text each age band gets."""

    version: str
    bands: Mapping[str, str]
    texts: Mapping[str, str]

    def text_for(self, age_band: str | None) -> str:
        """The text for an age band; an age not known (yet) gets the `unknown` band's text."""
        band = age_band if age_band is not None and age_band in self.bands else UNKNOWN_BAND
        return self.texts[self.bands[band]]

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> PrivacyNotice:
        version = str(data["version"])
        bands = {str(band): str(text) for band, text in data["bands"].items()}
        texts = {str(key): str(text) for key, text in data["texts"].items()}
        if UNKNOWN_BAND not in bands:
            raise ValueError(f"the privacy notice names no text for the {UNKNOWN_BAND!r} band")
        missing = sorted(set(bands.values()) - set(texts))
        if missing:
            raise ValueError(f"the privacy notice has no text {', '.join(missing)}")
        for key, text in texts.items():
            if f"v{version}" not in text:
                raise ValueError(f"privacy notice text {key!r} does not show version {version}")
        return cls(version, bands, texts)


@cache
def load_notice(path: Path = DATA_FILE) -> PrivacyNotice:
    """The notice from the data file (read once per process)."""
    return PrivacyNotice.parse(yaml.safe_load(path.read_text(encoding="utf-8")))
