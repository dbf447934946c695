"""Test-wide settings: tiny profile, hub offline, and no network at all.

Every non-local connection or name lookup raises, in this process and in every subprocess (notebook
kernels, accelerate, lm-eval): they inherit ``LLM_SURVEY_FORBID_NETWORK`` and ``PYTHONPATH`` with
``tests/sitecustomize``, whose ``sitecustomize.py`` installs ``survey_tools.netguard``. Attempts
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
_SITE = str(Path(__file__).resolve().parent / "sitecustomize")
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (_SITE, os.environ.get("PYTHONPATH", "")) if p)
_NET_LOG.unlink(missing_ok=True)

from helpers import env  # noqa: E402
from survey_tools import netguard  # noqa: E402

netguard.install_from_env()


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
