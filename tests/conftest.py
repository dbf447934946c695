"""Test-wide settings: tiny profile, hub offline, and no network at all.

Every non-local connection or name lookup raises, in this process and in every notebook kernel
(they inherit ``LLM_SURVEY_FORBID_NETWORK`` and ``import helpers`` installs the guard). Attempts
are also logged to a file, and the session fails if the log is not empty, so an attempt that a
library caught and swallowed still fails the run.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

_NET_LOG = Path(tempfile.gettempdir()) / f"llm-survey-net-{os.getpid()}.log"
os.environ.setdefault("LLM_SURVEY_PROFILE", "tiny")
for var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "HF_HUB_DISABLE_PROGRESS_BARS"):
    os.environ[var] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"
os.environ["LLM_SURVEY_FORBID_NETWORK"] = str(_NET_LOG)
_NET_LOG.unlink(missing_ok=True)

from helpers import env  # noqa: E402  (installs the guard in this process)

env.guard_from_env()


def pytest_sessionfinish(session, exitstatus):
    if _NET_LOG.exists() and _NET_LOG.read_text().strip():
        attempts = _NET_LOG.read_text().strip().splitlines()
        print(f"\nNETWORK ACCESS ATTEMPTED during the tests ({len(attempts)}):")
        for line in attempts[:20]:
            print("  ", line)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    _NET_LOG.unlink(missing_ok=True)


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch):
    """An empty stand-in cache for this test only."""
    monkeypatch.setenv(env.CACHE_ENV, str(tmp_path / "cache"))
    return tmp_path / "cache"
