"""The real profile against a hub on localhost (``make test-real``: this folder runs in its own pytest process).

One fixture hub per session (``tests/hub/hub_fixture.py`` writes it, ``tests/hub/hub_server.py`` serves it on free
127.0.0.1 ports), and the environment a user of the real profile has: ``HF_ENDPOINT`` names the hub,
``LLM_SURVEY_GITHUB_RAW`` the GitHub files, a fresh ``HF_HOME`` per run, ``HF_HUB_OFFLINE`` unset and
``LLM_SURVEY_PROFILE=real``. The hub libraries read these when imported, so they are set as this conftest
loads, before any test module imports them; that is why the folder is collected only when it is all that a
pytest run was given (``pytest tests`` leaves it out). The network guard of ``tests/conftest.py`` stays on:
loopback is all these tests reach.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
collect_ignore_glob: list[str] = []
_HF_HOME: list[str] = []
TIMINGS: dict[str, float] = {}  # seconds per notebook of test_notebooks_real.py, printed at the end


def pytest_configure(config):
    if not all(Path(a.split("::")[0]).resolve().is_relative_to(HERE) for a in config.args):
        collect_ignore_glob.append("*")  # part of a larger run: the hub libraries may already be imported
        return
    from survey_tools.app import free_port  # helpers.env reads no variable on import

    for var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "HF_TOKEN"):
        os.environ.pop(var, None)
    _HF_HOME.append(tempfile.mkdtemp(prefix="llm-survey-hf-home-"))
    os.environ.update({"HF_ENDPOINT": f"http://127.0.0.1:{free_port()}", "HF_HOME": _HF_HOME[0],
                       "LLM_SURVEY_GITHUB_RAW": f"http://127.0.0.1:{free_port()}", "LLM_SURVEY_PROFILE": "real",
                       "HF_HUB_DISABLE_PROGRESS_BARS": "1", "HF_HUB_DISABLE_TELEMETRY": "1",
                       "HF_UPDATE_DOWNLOAD_COUNTS": "0"})  # else datasets counts each load with a HEAD to an S3 URL


def pytest_unconfigure(config):
    for path in _HF_HOME:
        shutil.rmtree(path, ignore_errors=True)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if TIMINGS:
        terminalreporter.write_sep("-", "seconds per notebook in the real profile")
        for name, seconds in TIMINGS.items():
            terminalreporter.write_line(f"{name:<28} {seconds:6.1f} s")


class HubServer:
    """The fixture hub's server process: :meth:`start` (optionally set to die mid-download), :meth:`stop`."""

    def __init__(self, root: Path):
        self.root, self.url, self.proc = root, os.environ["HF_ENDPOINT"], None
        self.port = int(self.url.rsplit(":", 1)[1])
        self.github_port = int(os.environ["LLM_SURVEY_GITHUB_RAW"].rsplit(":", 1)[1])
        self.index = json.loads((root / "index.json").read_text(encoding="utf-8"))

    def start(self, die_after: int = 0, die_on: str = "") -> None:
        self.stop()
        args = [sys.executable, str(HERE / "hub_server.py"), str(self.root), "--port", str(self.port),
                "--github-port", str(self.github_port)]
        if die_on:
            args += ["--die-after", str(die_after), "--die-on", die_on]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"fixture hub did not start on port {self.port}")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def requests(self) -> list[str]:
        log = self.root / "requests.log"
        return log.read_text(encoding="utf-8").splitlines() if log.exists() else []

    def commit(self, repo: str, kind: str = "models", ref: str = "main") -> str:
        return self.index[kind][repo]["refs"][ref]


@pytest.fixture(scope="session")
def hub(tmp_path_factory):
    """The fixture hub, serving at ``HF_ENDPOINT``."""
    from hub_fixture import build

    from helpers import env

    root = tmp_path_factory.mktemp("hub") / "root"
    build(root)
    server = HubServer(root)
    env._HUB_CACHE.clear()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def timings() -> dict[str, float]:
    """Where a test puts the seconds a notebook took (the session ends with their table)."""
    return TIMINGS
