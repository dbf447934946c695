"""Checks of the app launcher and the interaction table that need no browser (they always run)."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import nbformat
import pytest
from checks import NOTEBOOKS
from interactions import INTERACTIONS, Interaction, NoWidgets, select

from survey_tools import app as apps


def test_interactions_cover_every_notebook():
    stems = {p.stem for p in NOTEBOOKS.glob("*.ipynb")}
    missing = sorted(stems - set(INTERACTIONS))
    assert not missing, f"add an entry for {missing} to tests/browser/interactions.py (see its docstring)"
    for stem, entry in INTERACTIONS.items():
        assert isinstance(entry, Interaction | NoWidgets), stem


def test_interaction_rejects_bad_declarations():
    with pytest.raises(ValueError, match="expect"):
        Interaction("x", (select("a", "b"),), expect="bigger")
    with pytest.raises(ValueError, match="at least one step"):
        Interaction("x", ())


def test_build_apps_writes_valid_notebooks(tmp_path):
    paths = apps.build_apps(tmp_path)
    assert sorted(p.name for p in paths) == sorted(a.filename for a in apps.APPS.values())
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
        assert nb.cells[0].cell_type == "code" and "plots.setup()" in nb.cells[0].source
        assert nb.cells[1].cell_type == "markdown" and nb.cells[1].source.startswith("# ")


@pytest.mark.parametrize("name", sorted(apps.APPS))
def test_app_calls_exist(name):
    """Every ``module.function`` an app calls exists in helpers (a rename breaks the app before class)."""
    app = apps.APPS[name]
    assert (NOTEBOOKS / app.notebook).exists()
    code = apps._SETUP + "\n" + "\n".join(src for kind, src in app.cells if kind == "code")
    tree = ast.parse(code)
    aliases = {a.asname or a.name: a.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
               and node.module == "helpers" for a in node.names}
    called = [(n.func.value.id, n.func.attr) for n in ast.walk(tree) if isinstance(n, ast.Call)
              and isinstance(n.func, ast.Attribute) and isinstance(n.func.value, ast.Name)
              and n.func.value.id in aliases]
    assert called, f"app {name} calls no helpers function"
    for alias, attr in called:
        module = importlib.import_module(f"helpers.{aliases[alias]}")
        assert callable(getattr(module, attr, None)), f"app {name}: helpers.{aliases[alias]}.{attr} is missing"
    # the widget the browser test drives is the one the app shows
    assert Path(app.notebook).stem in INTERACTIONS


def test_build_apps_names_unknown_app(tmp_path):
    with pytest.raises(ValueError, match="unknown app"):
        apps.build_apps(tmp_path, names=["nope"])


def test_voila_command_is_local_fixed_port_with_token(tmp_path):
    argv = apps.voila_command(tmp_path, 8999, "secret")
    assert "--Voila.ip=127.0.0.1" in argv and "--Voila.port=8999" in argv
    assert "--Voila.port_retries=0" in argv and "--Voila.token=secret" in argv and "--no-browser" in argv


def test_app_env_defaults_to_tiny_offline(monkeypatch):
    monkeypatch.delenv("LLM_SURVEY_PROFILE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    env = apps.app_env()
    assert env["LLM_SURVEY_PROFILE"] == "tiny" and env["HF_HUB_OFFLINE"] == "1"
    assert apps.app_env("real")["LLM_SURVEY_PROFILE"] == "real"


def test_free_port_is_bindable():
    import socket

    port = apps.free_port()
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))


def test_make_app_serves_both_apps_and_stops_on_ctrl_c(tmp_path):
    """`make app` (python -m survey_tools.app): prints one URL per app, Voilà lists both, Ctrl-C stops everything."""
    import os
    import re
    import signal
    import subprocess
    import sys
    import time
    import urllib.request

    port = apps.free_port()
    proc = subprocess.Popen([sys.executable, "-m", "survey_tools.app", "--port", str(port), "--token", "t0ken"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=apps.app_env(),
                            start_new_session=True)
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 90
        while len([x for x in lines if "/voila/render/" in x]) < len(apps.APPS) and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line and proc.poll() is not None:
                break
            lines.append(line)
        urls = [m.group(0) for x in lines for m in [re.search(r"http://127\.0\.0\.1:\d+/\S+", x)] if m]
        expected = {apps.app_url(f"http://127.0.0.1:{port}", a, "t0ken") for a in apps.APPS.values()}
        assert expected <= set(urls), "".join(lines)[-2000:]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/voila/api/contents?token=t0ken", timeout=20) as r:
            tree = r.read().decode()
        for app in apps.APPS.values():
            assert app.filename in tree, f"Voilà does not list {app.filename} in its contents"
    finally:
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does: the whole foreground group
        try:
            rc = proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            raise AssertionError("python -m survey_tools.app did not stop within 40 s of Ctrl-C") from None
    assert rc == 0, f"exit code {rc}"
    import socket

    with socket.socket() as s:  # nobody listens on the port any more: Voilà stopped too
        assert s.connect_ex(("127.0.0.1", port)) != 0, f"something still listens on port {port} after Ctrl-C"
