"""Browser tests: JupyterLab and Voilà, started here on free localhost ports, driven by headless Chromium.

Chromium is Debian's (``apt-get install -y chromium fonts-nanum``), never Playwright's download: set
``CHROMIUM=/path/to/chrome`` to use another. Without Chromium every ``browser`` test is skipped and the
run says so in its header and in its summary.

One JupyterLab server, one Voilà server and one Chromium per pytest session (started on first use,
stopped at the end, kernels included); every notebook is opened in turn in the *same* Lab page (a Lab
page load costs seconds of CPU). Screenshots go to ``build/screenshots/``. The session ends with a
table of what each page cost (wall and CPU seconds of this process tree: pytest, servers, kernels,
Chromium), so CI logs show where the time goes.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from checks import NOTEBOOKS, SCREENSHOTS

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def find_chromium() -> str | None:
    explicit = os.environ.get("CHROMIUM")
    if explicit:
        return explicit if Path(explicit).exists() else None
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


CHROMIUM = find_chromium()
SKIP_REASON = ("SKIP browser tests: no Chromium found (install it with `apt-get install -y chromium fonts-nanum` "
               "or set CHROMIUM=/path/to/chromium); JupyterLab/Voilà rendering was NOT checked")


def pytest_report_header(config):
    if CHROMIUM:
        return f"browser tests: Chromium at {CHROMIUM}"
    return SKIP_REASON


def pytest_collection_modifyitems(config, items):
    if CHROMIUM:
        return
    skip = pytest.mark.skip(reason=SKIP_REASON)
    for item in items:
        if item.get_closest_marker("browser"):
            item.add_marker(skip)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    skipped = [r for r in terminalreporter.stats.get("skipped", []) if SKIP_REASON in str(r.longrepr)]
    if skipped:
        terminalreporter.write_line(f"{SKIP_REASON} ({len(skipped)} browser tests skipped)", yellow=True, bold=True)
    if COST.rows:
        terminalreporter.write_sep("-", "browser test cost per page")
        for line in COST.table().splitlines():
            terminalreporter.write_line(line)


# --------------------------------------------------------------------------- cost accounting


def tree_cpu_s() -> float:
    """CPU seconds (user + system) used so far by this process and every live descendant, including the
    children those descendants have already reaped (a server's finished kernels, Chromium's renderers)."""
    import psutil

    total = 0.0
    me = psutil.Process()
    for proc in [me, *me.children(recursive=True)]:
        try:
            t = proc.cpu_times()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        total += t.user + t.system + t.children_user + t.children_system
    return total


@dataclass
class Cost:
    """Wall and CPU seconds per page (a notebook in Lab, an app in Voilà) and for the whole session."""

    rows: list[tuple[str, float, float, str]] = field(default_factory=list)
    t0: float = field(default_factory=time.monotonic)
    cpu0: float = 0.0

    def start(self) -> tuple[float, float]:
        return time.monotonic(), tree_cpu_s()

    last_cpu: float = 0.0

    def record(self, page: str, started: tuple[float, float], note: str = "") -> None:
        now = tree_cpu_s()
        self.last_cpu = max(self.last_cpu, now)
        self.rows.append((page, time.monotonic() - started[0], now - started[1], note))

    def table(self) -> str:
        w = max(len(r[0]) for r in self.rows)
        lines = [f"{'page':<{w}}  {'wall s':>7}  {'CPU s':>7}  note", "-" * (w + 30)]
        lines += [f"{p:<{w}}  {wall:7.1f}  {cpu:7.1f}  {note}" for p, wall, cpu, note in self.rows]
        # processes that ended and were not reaped by this tree (kernels of a stopped server) drop out of
        # the live sum: take the larger of now and the last page's reading
        wall, cpu = time.monotonic() - self.t0, max(tree_cpu_s(), self.last_cpu) - self.cpu0
        lines.append("-" * (w + 30))
        lines.append(f"{'pages':<{w}}  {sum(r[1] for r in self.rows):7.1f}  {sum(r[2] for r in self.rows):7.1f}")
        lines.append(f"{'session (servers, browser, all)':<{w}} {wall:7.1f}  {cpu:7.1f}  "
                     f"CPU/2 cores = {cpu / 2:.0f} s: the wall time floor on an unloaded 2-core runner")
        return "\n".join(lines)


COST = Cost()


def pytest_sessionstart(session):
    COST.t0, COST.cpu0 = time.monotonic(), tree_cpu_s()


@pytest.fixture(scope="session")
def cost() -> Cost:
    return COST


# --------------------------------------------------------------------------- Chromium (pytest-playwright)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """pytest-playwright has no option for the executable: point it at the system Chromium."""
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_FLAGS, "headless": True}


@pytest.fixture
def new_page(browser):
    """A fresh context and page (Korean locale, a wide viewport); closed afterwards."""
    contexts = []

    def make(width: int = 1400, height: int = 900):
        ctx = browser.new_context(viewport={"width": width, "height": height}, locale="ko-KR",
                                  timezone_id="Asia/Seoul")
        ctx.set_default_timeout(30_000)
        contexts.append(ctx)
        return ctx.new_page()

    yield make
    for ctx in contexts:
        ctx.close()


# --------------------------------------------------------------------------- servers


def server_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("LLM_SURVEY_PROFILE", "tiny")
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    env.setdefault("PYTHONWARNINGS", "ignore::DeprecationWarning")
    # one compute thread per kernel: on a 2-core runner the browser and the servers need the other core
    # (these tests check what the page shows, not how fast torch runs; bench/ measures speed)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env.setdefault(var, "1")
    return env


@dataclass
class Server:
    name: str
    proc: subprocess.Popen
    base: str
    token: str
    root: Path
    log: Path

    def url(self, path: str) -> str:
        sep = "&" if "?" in path else "?"
        return f"{self.base}/{path.lstrip('/')}{sep}token={self.token}"

    def log_tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""


def start(name: str, argv: list[str], base: str, token: str, root: Path, log: Path, cwd: Path,
          extra_env: dict[str, str] | None = None) -> Server:
    from survey_tools.app import wait_for_http

    fh = open(log, "w")
    # own process group: teardown stops the server and every kernel it started, and nothing else
    proc = subprocess.Popen(argv, cwd=cwd, env={**server_env(), **(extra_env or {})}, stdout=fh,
                            stderr=subprocess.STDOUT, start_new_session=True)
    server = Server(name, proc, base, token, root, log)
    try:
        wait_for_http(f"{base}/?token={token}", timeout=90, proc=proc)
    except Exception as exc:
        stop(server)
        raise RuntimeError(f"{name} did not start: {exc}\n{server.log_tail()}") from exc
    return server


def stop(server: Server) -> None:
    if server.proc.poll() is not None:
        return
    try:
        os.killpg(server.proc.pid, signal.SIGTERM)  # the server shuts its kernels down on SIGTERM
        server.proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(server.proc.pid, signal.SIGKILL)
        server.proc.wait(timeout=5)
    except ProcessLookupError:
        pass
    try:  # kernels left in the group (a server killed hard)
        os.killpg(server.proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


LAB_SETTINGS = {
    # every cell in the DOM (no virtual scrolling), so checks and screenshots see the whole notebook
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    # never write outputs back into the notebook files (they are copies anyway)
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false",
                                                                        "checkForUpdates": False},
}


@pytest.fixture(scope="session")
def lab_server(tmp_path_factory):
    """JupyterLab on a free port, serving copies of notebooks/*.ipynb (Lab writes plotly PNGs into notebooks)."""
    from survey_tools.app import free_port

    work = tmp_path_factory.mktemp("lab")
    root = work / "notebooks"
    root.mkdir()
    for nb in NOTEBOOKS.glob("*.ipynb"):
        shutil.copy2(nb, root / nb.name)
    settings = work / "settings"
    for rel, value in LAB_SETTINGS.items():
        path = settings / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(value))
    port, token = free_port(), secrets.token_hex(16)
    argv = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--allow-root",
            "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
            "--LabApp.expose_app_in_browser=True", f"--LabApp.user_settings_dir={settings}",
            f"--LabApp.workspaces_dir={work / 'workspaces'}", "--LabApp.news_url=None",
            "--LabApp.extension_manager=readonly"]
    # a fresh JUPYTER_DATA_DIR: no notebook is trusted yet (as in a fresh clone), no runtime files shared
    server = start("JupyterLab", argv, f"http://127.0.0.1:{port}", token, root, work / "lab.log", cwd=root,
                   extra_env={"JUPYTER_DATA_DIR": str(work / "data")})
    yield server
    stop(server)


_LAB_READY = """() => { const a = window.jupyterapp;
    return !!(a && a.serviceManager && a.serviceManager.isReady && a.shell.node.isConnected); }"""


@pytest.fixture(scope="session")
def lab_page(browser, lab_server, cost):
    """One JupyterLab page for the whole session (loading Lab costs seconds of CPU): tests open each
    notebook in it in turn, and close it (kernel shut down) before the next."""
    from checks import Console

    started = cost.start()
    ctx = browser.new_context(viewport={"width": 1400, "height": 900}, locale="ko-KR", timezone_id="Asia/Seoul")
    ctx.set_default_timeout(30_000)
    page = ctx.new_page()
    page.console_log = Console(page)
    # ?reset: a fresh workspace, so no notebook of an earlier run is restored
    page.goto(lab_server.url("lab?reset"))
    page.wait_for_function(_LAB_READY, timeout=90_000, polling=200)
    page.evaluate("async () => { const a = window.jupyterapp; await a.restored; a.shell.collapseLeft(); }")
    cost.record("JupyterLab page load", started, f"server log {lab_server.log}")
    yield page
    ctx.close()


@pytest.fixture(scope="session")
def voila_server(tmp_path_factory):
    """Voilà on a free port serving the apps exactly as `python -m survey_tools.app` builds them."""
    from survey_tools.app import build_apps, free_port, voila_command

    work = tmp_path_factory.mktemp("voila")
    build_apps(work / "apps")
    port, token = free_port(), secrets.token_hex(16)
    argv = voila_command(work / "apps", port, token, show_tracebacks=True)
    server = start("Voilà", argv, f"http://127.0.0.1:{port}", token, work / "apps", work / "voila.log",
                   cwd=work)
    yield server
    stop(server)


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS

