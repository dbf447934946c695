"""Classroom apps: the landscape explorer (notebook 01) and the licence checker (notebook 02) as Voilà pages.

A lecturer's tool (``make app``); notebooks never import it.

An app is a short notebook of *calls* into ``helpers`` (the same widget functions the source notebook
calls), written by :func:`build_apps` into ``build/apps/`` and served by Voilà, which runs it in a fresh
kernel per visitor and shows only its outputs: Korean prose, live widgets and charts, no code.

Serve both on localhost (tiny profile unless ``LLM_SURVEY_PROFILE`` says otherwise)::

    .venv/bin/python -m survey_tools.app               # prints one URL per app; Ctrl-C stops Voilà
    .venv/bin/python -m survey_tools.app --port 8900 --profile real
    .venv/bin/python -m survey_tools.app --build-only  # just write build/apps/*.ipynb

The browser tests (``tests/browser/``) use :func:`build_apps` and :func:`voila_command` too, so what
they check is what ``make app`` serves.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from helpers import env

DEFAULT_PORT = 8866
APP_DIR = env.REPO_ROOT / "build" / "apps"

# The first code cell of every app: quiet logs, Korean fonts for matplotlib and plotly, the profile.
_SETUP = """\
import helpers
from helpers import env, plots
env.quiet()
plots.setup()
PROFILE = env.profile(None)"""


@dataclass(frozen=True)
class App:
    """One Voilà page: which notebook it comes from and the cells it shows (markdown, or code)."""

    name: str       # file stem under build/apps/ and the URL: /voila/render/<name>.ipynb
    title: str      # page title (Korean)
    notebook: str   # the source notebook in notebooks/, named on the page
    cells: tuple[tuple[str, str], ...]  # ("markdown" | "code", source)

    @property
    def filename(self) -> str:
        return f"{self.name}.ipynb"


APPS: dict[str, App] = {
    app.name: app
    for app in (
        App(
            name="landscape_explorer",
            title="오픈 LLM 지형도 탐색기",
            notebook="01_model_landscape.ipynb",
            cells=(
                ("markdown", "# 오픈 LLM 지형도 탐색기 (landscape explorer)\n\n"
                             "라이선스(license), 상업적 이용(commercial use), 한국어 지원, 크기, 출시 연도로 "
                             "모델 계열을 걸러 봅니다. 표와 차트의 모든 값은 저장소의 `data/catalog/`에서 오며, "
                             "행마다 출처(source) URL이 있습니다. 자세한 설명은 노트북 "
                             "`notebooks/01_model_landscape.ipynb`에 있습니다."),
                ("code", "from helpers import catalog\nmodels = catalog.models()"),
                ("markdown", "## 필터 (filter)\n\n여러 항목은 Ctrl(맥은 ⌘) 키를 누른 채 고르고, 슬라이더로 "
                             "크기와 연도 범위를 좁힙니다."),
                ("code", "box = catalog.filter_widget(models)"),
                ("markdown", "## 한 장의 지형도 — 출시 시점, 계보, 크기\n\n모델 하나가 한 줄입니다. 같은 계열은 "
                             "모여 있고, 선은 기반 모델에서 파생 모델로 이어집니다. 점의 색은 한국어 지원 수준, "
                             "굵은 이름은 2023년 서베이 시점의 모델, 점선은 서베이 시점(2023년 5월)입니다. "
                             "오른쪽 칸은 공개된 크기(십억 파라미터, 로그 축)입니다."),
                ("code", "catalog.landscape_figure(models)"),
            ),
        ),
        App(
            name="license_checker",
            title="라이선스 확인기",
            notebook="02_license_matrix.ipynb",
            cells=(
                ("markdown", "# 라이선스 확인기 (license checker)\n\n"
                             "\"모델 X를 용도 Y로 써도 되나?\"에 대해, 가중치(weights)·기반 모델(base model)·"
                             "학습 데이터(training data)의 라이선스 사슬(chain)을 따라가며 가장 엄격한 조건으로 "
                             "답하고 그 이유와 출처(source)를 보여 줍니다. 규칙은 `data/licenses/`의 데이터이고, "
                             "자세한 설명은 노트북 `notebooks/02_license_matrix.ipynb`에 있습니다.\n\n"
                             "**법률 자문이 아닙니다.** 실제로 쓰기 전에 라이선스 원문을 읽으세요."),
                ("markdown", "## 모델과 용도를 고르세요\n\n색이 답입니다. **초록 = 가능**, **노랑 = 조건부**, "
                             "**빨강 = 불가**. 그림은 조건이 물려 내려오는 사슬(모델 → 기반 모델 → 학습 데이터 → "
                             "데이터를 만든 API)이고, 그 아래에 조항 번호와 출처가 달린 이유가 나옵니다."),
                ("code", "from helpers import licenses\nlicenses.widget()"),
                ("markdown", "## 판정표 (matrix)\n\n모든 모델 × 네 가지 용도. 크기마다 라이선스나 기반 모델이 다른 "
                             "계열(예: Qwen2.5)은 크기 묶음마다 한 줄입니다."),
                ("code", "licenses.matrix_table()"),
            ),
        ),
    )
}


def app_notebook(app: App):
    """The app as an ``nbformat`` notebook (not executed; Voilà executes it per visitor)."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

    cells = [new_code_cell(_SETUP)]
    for kind, source in app.cells:
        if kind not in ("markdown", "code"):
            raise ValueError(f"app {app.name!r}: cell kind {kind!r} is neither 'markdown' nor 'code'")
        cells.append(new_markdown_cell(source) if kind == "markdown" else new_code_cell(source))
    cells.append(new_markdown_cell(
        f"---\n*{app.title}: open-llm-survey의 `notebooks/{app.notebook}`에서 만든 Voilà 앱 "
        f"(survey_tools.app이 생성; 직접 고치지 마세요).*"))
    nb = new_notebook(cells=cells, metadata={"title": app.title, "language_info": {"name": "python"},
                                             "kernelspec": {"name": "python3", "display_name": "Python 3",
                                                            "language": "python"}})
    nbformat.validate(nb)
    return nb


def build_apps(dest: str | Path | None = None, names: list[str] | None = None) -> list[Path]:
    """Write the app notebooks into ``dest`` (default ``build/apps/``); return their paths."""
    import nbformat

    dest = Path(dest) if dest is not None else APP_DIR
    dest.mkdir(parents=True, exist_ok=True)
    unknown = sorted(set(names or ()) - set(APPS))
    if unknown:
        raise ValueError(f"unknown app(s) {unknown}; known: {sorted(APPS)}")
    paths = []
    for name in names or list(APPS):
        app = APPS[name]
        source = env.REPO_ROOT / "notebooks" / app.notebook
        if not source.exists():
            raise FileNotFoundError(f"app {name!r} belongs to {source}, which does not exist")
        path = dest / app.filename
        nbformat.write(app_notebook(app), path)
        paths.append(path)
    return paths


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (the OS picks it)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def stop(proc: subprocess.Popen, timeout: float = 30.0) -> int:
    """SIGTERM (a Jupyter or Voilà server then shuts its kernels down), SIGKILL if ``proc`` has not exited within
    ``timeout`` s; its exit code. Where ``proc`` leads a process group of its own (``start_new_session=True``),
    the signals go to the whole group."""
    for sig, seconds in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5)):
        if proc.poll() is not None:
            break
        try:
            if os.getpgid(proc.pid) == proc.pid:
                os.killpg(proc.pid, sig)
            else:
                proc.send_signal(sig)
            proc.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            continue
        except ProcessLookupError:
            break
    return proc.wait()


def voila_command(app_dir: str | Path, port: int, token: str, *, ip: str = "127.0.0.1",
                  show_tracebacks: bool = False) -> list[str]:
    """The argv that serves every notebook of ``app_dir`` with Voilà (no browser, one fixed port)."""
    return [sys.executable, "-m", "voila", str(app_dir), "--no-browser", f"--Voila.ip={ip}", f"--Voila.port={port}",
            "--Voila.port_retries=0", f"--Voila.token={token}",
            f"--VoilaConfiguration.show_tracebacks={show_tracebacks}"]


def app_env(profile: str | None = None) -> dict[str, str]:
    """Environment for the server and its kernels: tiny profile and offline hub unless told otherwise."""
    out = dict(os.environ)
    if profile:
        out[env.PROFILE_ENV] = profile
    out.setdefault(env.PROFILE_ENV, "tiny")
    if out[env.PROFILE_ENV] == "tiny":
        out.setdefault("HF_HUB_OFFLINE", "1")
    out.setdefault("PLOTLY_RENDERER", "plotly_mimetype")
    return out


def app_url(base: str, app: App, token: str) -> str:
    return f"{base}/voila/render/{app.filename}?token={token}"


def wait_for_http(url: str, timeout: float = 60.0, proc: subprocess.Popen | None = None) -> None:
    """Return once ``url`` answers (any HTTP status); raise if ``proc`` exits or time runs out."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with code {proc.returncode} before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return
        except OSError as exc:  # not listening yet
            last = exc
        time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f} s (last error: {last})")


def serve(port: int = DEFAULT_PORT, profile: str | None = None, token: str | None = None) -> int:
    """Build the apps, start Voilà on localhost, print the URLs, wait until Ctrl-C; return its exit code."""
    paths = build_apps()
    token = token or secrets.token_hex(16)

    def interrupted(*_):  # SIGTERM (e.g. `timeout`, a process manager) stops Voilà too
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupted)
    # Ctrl-C, also where SIGINT was inherited as ignored (Python then installs no handler): a process
    # started in the background by a non-interactive shell, e.g. `make app &` in a script
    signal.signal(signal.SIGINT, interrupted)
    server_env = app_env(profile)
    proc = subprocess.Popen(voila_command(paths[0].parent, port, token), env=server_env)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{base}/?token={token}", proc=proc)
        print(f"\nVoilà apps ({server_env[env.PROFILE_ENV]} profile), Ctrl-C to stop:", flush=True)
        for app in APPS.values():
            print(f"  {app.title} ({app.name}): {app_url(base, app, token)}", flush=True)
        return proc.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        stop(proc, timeout=15)  # SIGTERM: Voilà shuts its kernels down and exits without asking


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m survey_tools.app", description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"default {DEFAULT_PORT}")
    parser.add_argument("--profile", choices=env.PROFILES, default=None,
                        help="default: $LLM_SURVEY_PROFILE, else tiny")
    parser.add_argument("--token", default=None, help="default: a random token")
    parser.add_argument("--build-only", action="store_true", help="write build/apps/*.ipynb and stop")
    args = parser.parse_args(argv)
    if args.build_only:
        for path in build_apps():
            print(path)
        return 0
    return serve(port=args.port, profile=args.profile, token=args.token)


if __name__ == "__main__":
    sys.exit(main())
