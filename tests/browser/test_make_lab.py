"""The README's first command, as a user runs it: ``make lab`` itself (not a copy of its command line).

It starts on a free port, as whoever runs the tests (root in CI) and with no display; its last line is the URL
with the token; notebooks/00_start_here.ipynb opens through it in Chromium with a live kernel; Ctrl-C (SIGINT to
make's process group, as a terminal sends it) stops everything: make, the launcher, the server and the kernel.
A second test sends Ctrl-C to the launcher started with SIGINT ignored, as a background job of a
non-interactive shell inherits it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from checks import NOTEBOOKS, REPO, SCREENSHOTS

from survey_tools.app import free_port, stop
from survey_tools.lab import port_in_use

URL_LINE = re.compile(r"^\s+(http://127\.0\.0\.1:(\d+)/lab\?token=([0-9a-f]+))\s*$")
NOTEBOOK = "00_start_here.ipynb"
STARTUP_S = 240  # make checks the venv and the stand-ins first (seconds when they are built)


class Output:
    """A process's merged stdout and stderr, read line by line in a thread (so the pipe never fills)."""

    def __init__(self, proc: subprocess.Popen):
        self.lines: list[str] = []
        self.thread = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self.thread.start()

    def _read(self, proc):
        for line in proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def text(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, pattern: re.Pattern, proc: subprocess.Popen, timeout: float) -> re.Match:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                m = pattern.match(line)
                if m:
                    return m
            if proc.poll() is not None:
                self.thread.join(5)
                pytest.fail(f"exited with code {proc.returncode} before printing a URL:\n{self.text()[-4000:]}")
            time.sleep(0.2)
        pytest.fail(f"no URL line within {timeout:.0f} s:\n{self.text()[-4000:]}")


def user_env(tmp_path: Path) -> dict[str, str]:
    """A user's shell: no display, no outer make's flags; Jupyter's own files in a temporary folder (settings:
    never save a notebook, whatever the page does)."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")}
    for plugin, value in (("docmanager-extension/plugin", {"autosave": False}),
                          ("notebook-extension/tracker", {"windowingMode": "none"})):  # every cell in the DOM
        path = tmp_path / "settings" / "@jupyterlab" / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(value))
    env.update(JUPYTER_DATA_DIR=str(tmp_path / "data"), JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"),
               JUPYTERLAB_SETTINGS_DIR=str(tmp_path / "settings"), JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / "ws"),
               OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    return env


def _api(base: str, token: str, path: str):
    with urllib.request.urlopen(f"{base}{path}?token={token}", timeout=5) as r:
        return json.loads(r.read())


def _kernel_processes(kernel_id: str) -> list:
    """The kernel's processes: the ones whose command line names its connection file."""
    import psutil

    out = []
    for p in psutil.process_iter(["cmdline"]):
        if any(kernel_id in part for part in (p.info["cmdline"] or [])):
            out.append(p)
    return out


def _gone(procs, timeout: float = 15) -> list:
    import psutil

    _, alive = psutil.wait_procs(procs, timeout=timeout)
    return [p for p in alive if p.status() != psutil.STATUS_ZOMBIE]


def _default_sigint():
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # as a terminal's foreground job has it


@pytest.mark.browser
def test_make_lab_serves_start_here_and_stops_on_ctrl_c(browser, tmp_path, cost):
    make = shutil.which("make")
    if not make:
        pytest.skip("no make on this machine")
    started = cost.start()
    port = free_port()
    nb_path = NOTEBOOKS / NOTEBOOK
    before = hashlib.sha256(nb_path.read_bytes()).hexdigest()
    proc = subprocess.Popen([make, "--no-print-directory", "lab", f"PORT={port}"], cwd=REPO,
                            env=user_env(tmp_path), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True, preexec_fn=_default_sigint)
    out = Output(proc)
    kernel_procs = []
    try:
        m = out.wait_for(URL_LINE, proc, STARTUP_S)
        url, token = m.group(1), m.group(3)
        assert int(m.group(2)) == port, f"make lab PORT={port} served on {m.group(2)}"
        time.sleep(1.0)
        assert out.lines[-1] == m.group(0), f"the URL is not the last line:\n{out.text()[-2000:]}"
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            assert "--allow-root" in out.text()

        base = f"http://127.0.0.1:{port}"
        ctx = browser.new_context(viewport={"width": 1400, "height": 900}, locale="ko-KR")
        ctx.set_default_timeout(60_000)
        page = ctx.new_page()
        errors = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(url.replace("/lab?", f"/lab/tree/{NOTEBOOK}?"))
        title = page.locator(".jp-NotebookPanel .jp-MarkdownOutput h1").first
        title.wait_for(state="visible", timeout=90_000)
        assert title.inner_text().startswith("00."), title.inner_text()
        cells = page.locator(".jp-NotebookPanel .jp-Cell").count()
        assert cells == len(json.loads(nb_path.read_text(encoding="utf-8"))["cells"]), cells
        # the kernel this server started for the notebook, idle (running, not starting or dead)
        deadline, session = time.monotonic() + 90, None
        while time.monotonic() < deadline:
            sessions = [s for s in _api(base, token, "/api/sessions") if s["path"].endswith(NOTEBOOK)]
            if sessions and sessions[0]["kernel"]["execution_state"] == "idle":
                session = sessions[0]
                break
            time.sleep(0.5)
        assert session, f"no idle kernel for {NOTEBOOK}: {_api(base, token, '/api/sessions')}"
        kernel_procs = _kernel_processes(session["kernel"]["id"])
        assert kernel_procs, "the kernel's process was not found"
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "make_lab_00_start_here.png"))
        ctx.close()
        assert not errors, f"JavaScript errors: {errors}"

        # Ctrl-C, as a terminal sends it: SIGINT to every process of make's group
        os.killpg(proc.pid, signal.SIGINT)
        try:
            code = proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            pytest.fail(f"make lab did not stop within 60 s of Ctrl-C:\n{out.text()[-3000:]}")
        out.thread.join(5)
        text = out.text()
        # make reports the interrupt and dies of SIGINT itself (or exits 0 where SIGINT reached only the launcher)
        assert code in (0, -signal.SIGINT, 128 + signal.SIGINT), (code, text[-2000:])
        assert "JupyterLab stopped (exit code 0)." in text, text[-2000:]
        assert "Traceback" not in text, text[-3000:]
        with pytest.raises(ProcessLookupError):
            os.killpg(proc.pid, 0)  # nothing left in make's process group
        assert not port_in_use(port), f"the server still listens on {port}"
        assert not _gone(kernel_procs), "the notebook's kernel outlived the server"
        log = Path(re.search(r"its log: (\S+)", text).group(1)).read_text(errors="replace")
        assert "received signal 15, stopping" in log and "Kernel shutdown" in log, log[-2000:]
        assert hashlib.sha256(nb_path.read_bytes()).hexdigest() == before, f"{nb_path} was modified"
    finally:
        stop(proc)  # after a failure: the launcher stops its server (a session of its own)
        for p in kernel_procs:
            if p.is_running():
                p.kill()
        cost.record("make lab: start, open 00, Ctrl-C", started)


def test_ctrl_c_stops_the_launcher_even_with_sigint_inherited_as_ignored(tmp_path):
    """``make lab &`` in a script: the job starts with SIGINT ignored; Ctrl-C (SIGINT) must still stop it."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "survey_tools.lab", "--port", str(port)], cwd=REPO,
                            env=user_env(tmp_path), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    out = Output(proc)
    try:
        out.wait_for(URL_LINE, proc, 120)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 0, out.text()[-3000:]
        out.thread.join(5)
        assert "JupyterLab stopped (exit code 0)." in out.text()
        assert not port_in_use(port)
    finally:
        stop(proc)  # after a failure: the launcher stops its server (a session of its own)
