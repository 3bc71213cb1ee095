"""Every module that declares tables of the app database, so `Base.metadata` is complete.

Key rotation, the key check and retention find the tables and encrypted columns they work on
in `Base.metadata`; a module missing here would leave its tables out. A test keeps this list
in step with the modules that subclass `Base` and with what the migrations create.
"""

from __future__ import annotations

import importlib

from sqlalchemy import MetaData

from youthlink.db import Base

MODEL_MODULES = (
    "channels.tables",
    "channels.rasa_control",
    "handoff.models",
    "handoff.pager_models",
)


def import_models(modules: tuple[str, ...] = MODEL_MODULES) -> MetaData:
    """Import every model module and return the complete metadata of the app database."""
    for name in modules:
        importlib.import_module(name)
    return Base.metadata
