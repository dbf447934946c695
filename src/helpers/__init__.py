"""Shared helpers for the open-llm-survey notebooks.

Submodules are imported lazily, so ``import helpers`` is cheap and
``helpers.env.report()`` works right after it.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_SUBMODULES = set("env zoo plots catalog licenses instruct lora generate kobest memory records".split())


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'helpers' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | _SUBMODULES)
