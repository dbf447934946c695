"""``make lab``: JupyterLab on ``notebooks/`` for whoever runs it, root or not, with or without a display.

    .venv/bin/python -m survey_tools.lab [--port 8888] [--no-browser]

Starts ``jupyter lab`` on ``127.0.0.1:PORT`` (that port or a clear error, never another one) with a fresh token,
adding ``--allow-root`` when run as root (containers, cloud notebooks, many lab servers). Once the server
answers it opens a browser where there is a display, and its last line is the URL to open, token included. The
server's own log goes to ``build/jupyterlab-PORT.log``.

Ctrl-C (SIGINT) or SIGTERM stops it without a question: the server runs in a session of its own with no terminal
on stdin (so Jupyter's "Shut down this Jupyter server (y/[n])?" never comes), and this process stops it with
SIGTERM, on which the server shuts its kernels down and exits. Ctrl-C works even where SIGINT was inherited as
ignored (a job started in the background by a non-interactive shell, e.g. ``make lab &`` in a script): the
handler is installed here explicitly. ``tests/browser/test_make_lab.py`` runs ``make lab`` this way.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import socket
import subprocess
import sys
import webbrowser
from pathlib import Path

from helpers import env
from survey_tools.app import stop, wait_for_http

DEFAULT_PORT = 8888
NOTEBOOKS = env.REPO_ROOT / "notebooks"
BUILD = env.REPO_ROOT / "build"


def lab_command(root: str | Path, port: int, token: str, *, ip: str = "127.0.0.1") -> list[str]:
    """The argv of a JupyterLab server on ``root``: no browser of its own, one fixed port, root allowed for root."""
    argv = [sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--ServerApp.ip={ip}",
            f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={root}"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        argv.append("--allow-root")  # Jupyter refuses root without it ("Running as root is not recommended")
    return argv


def port_in_use(port: int, ip: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((ip, port), timeout=0.5):
            return True
    except OSError:
        return False


def has_display() -> bool:
    """Whether a browser window can open here (macOS, Windows, or an X11/Wayland display)."""
    return sys.platform in ("darwin", "win32") or bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _die_with_parent() -> None:
    """Linux: the server gets SIGTERM if this launcher is killed outright (no orphaned server, kernels and port)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def serve(port: int = DEFAULT_PORT, open_browser: bool | None = None, root: Path = NOTEBOOKS) -> int:
    """Start the server, print its URL, wait for Ctrl-C or SIGTERM (or the server's own exit); its exit code."""
    if port_in_use(port):
        print(f"Port {port} is already in use (another JupyterLab?). Pick another: make lab PORT={port + 1}",
              file=sys.stderr)
        return 1

    def interrupted(*_):
        raise KeyboardInterrupt

    for sig in (signal.SIGINT, signal.SIGTERM):  # SIGINT too where it was inherited as ignored
        signal.signal(sig, interrupted)
    token = secrets.token_hex(24)
    log = BUILD / f"jupyterlab-{port}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    url = f"http://127.0.0.1:{port}/lab?token={token}"
    argv = lab_command(root, port, token)
    as_root = " (as root: --allow-root)" if "--allow-root" in argv else ""
    print(f"Starting JupyterLab on {root.name}/{as_root}; its log: {log}", flush=True)
    with open(log, "w") as fh:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=fh,
                                stderr=subprocess.STDOUT, start_new_session=True,
                                preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None)
    try:
        try:
            wait_for_http(f"http://127.0.0.1:{port}/api/status?token={token}", timeout=120, proc=proc)
        except (RuntimeError, TimeoutError) as exc:
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:])
            print(f"JupyterLab did not start: {exc}\n--- last lines of {log} ---\n{tail}", file=sys.stderr)
            return 1
        if open_browser if open_browser is not None else has_display():
            try:
                webbrowser.open(url)
            except webbrowser.Error:
                pass  # no browser after all: the URL below is what to open
        print("JupyterLab is running; Ctrl-C stops it. Open this URL in your browser:", flush=True)
        print(f"    {url}", flush=True)
        code = proc.wait()  # the server stopped by itself (File > Shut Down, or a crash)
        print(f"JupyterLab exited with code {code}; its log: {log}", file=sys.stderr)
        return code
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the shutdown short
        print("\nStopping JupyterLab (its kernels are shut down) ...", flush=True)
        code = stop(proc)
        print(f"JupyterLab stopped (exit code {code}).", flush=True)
        return 0
    finally:
        stop(proc)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m survey_tools.lab", description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"default {DEFAULT_PORT}")
    parser.add_argument("--no-browser", dest="open_browser", action="store_false", default=None,
                        help="do not open a browser (default: open one where there is a display)")
    args = parser.parse_args(argv)
    return serve(port=args.port, open_browser=args.open_browser)


if __name__ == "__main__":
    sys.exit(main())
