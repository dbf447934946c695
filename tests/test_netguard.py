"""The test network guard (survey_tools.netguard) reaches subprocesses through tests/sitecustomize."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

SITE = Path(__file__).resolve().parent / "sitecustomize"

PROBE = textwrap.dedent("""
    import socket, urllib.request
    try:
        urllib.request.urlopen("http://example.org", timeout=2)
    except Exception as e:
        print("blocked:", type(e).__name__)
    s = socket.socket()
    try:
        s.connect(("93.184.216.34", 80))
    except ConnectionError as e:
        print("blocked:", type(e).__name__)
    # loopback stays open (kernels, local servers)
    srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen(1)
    c = socket.create_connection(srv.getsockname(), timeout=2); c.close(); srv.close()
    print("loopback ok")
""")


def _run(env_extra: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60,
                          env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **env_extra})


def test_guard_blocks_and_logs_in_a_subprocess_without_importing_anything(tmp_path):
    log = tmp_path / "net.log"
    out = _run({"LLM_SURVEY_FORBID_NETWORK": str(log), "PYTHONPATH": str(SITE)})
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("blocked:") == 2
    assert "loopback ok" in out.stdout
    logged = log.read_text()
    assert "example.org" in logged and "93.184.216.34" in logged


def test_guard_is_off_without_the_variable(tmp_path):
    # with the sitecustomize on the path but no variable, nothing is patched
    code = "import socket; print(getattr(socket, '_survey_guard', False))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(SITE)})
    assert out.stdout.strip() == "False"


def test_this_test_process_is_guarded():
    import socket

    assert getattr(socket, "_survey_guard", False)
    assert str(SITE) in os.environ["PYTHONPATH"].split(os.pathsep)
