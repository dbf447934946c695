"""The classroom apps (``python -m survey_tools.app``) in Voilà: no code, live widgets, charts, Korean text."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from checks import (
    REPO,
    Console,
    count_plotly,
    full_screenshot,
    interaction_problems,
    korean_font_problems,
    placeholder_problems,
    plotly_problems,
    wait_placeholders_gone,
)
from interactions import INTERACTIONS

from survey_tools.app import APPS

pytestmark = pytest.mark.browser

ROOT = "body"
# jupyterlab-plotly 7.1 writes a PNG of each figure back into the output model with `model.setData`;
# Voilà's output models have no setData, so after the figure is drawn this one error is thrown (the
# figure itself is fine; checked by plotly_problems). Allowed in Voilà only.
VOILA_KNOWN_PAGE_ERRORS = ("setData is not a function",)
RELOADS = 3          # Voilà sometimes stalls on "Executing N of M" (upstream); a reload gets a fresh kernel
EXECUTE_TIMEOUT_S = 60
DOCS_SCREENSHOTS = REPO / "docs" / "screenshots"

_DONE = "() => !document.getElementById('loading') && !!document.getElementById('rendered_cells')"


def open_app(page, url: str, console: Console) -> float:
    """Open an app and wait until Voilà has executed it; reload on a stall. Returns seconds taken."""
    t0 = time.monotonic()
    for attempt in range(1, RELOADS + 2):
        page.goto(url, wait_until="commit")
        if attempt > 1:  # the stalled load's own request is aborted by the reload: not a page problem
            dropped, _ = console.drain()
            if dropped:
                print(f"ignored after the reload (stalled load): {dropped}")
        try:
            page.wait_for_function(_DONE, timeout=EXECUTE_TIMEOUT_S * 1000, polling=250)
            return time.monotonic() - t0
        except Exception:
            if attempt > RELOADS:
                raise
            print(f"Voilà stalled ({page.locator('body').inner_text()[:80]!r}); reload {attempt}")
    raise AssertionError("unreachable")


def small_docs_png(src: Path, dest: Path, width: int = 900) -> None:
    """A small palette PNG for the README (docs/screenshots/), from a viewport screenshot."""
    from PIL import Image

    dest.parent.mkdir(parents=True, exist_ok=True)
    img = Image.open(src).convert("RGB")
    img = img.resize((width, round(img.height * width / img.width)), Image.LANCZOS)
    img.quantize(colors=128, method=Image.Quantize.MEDIANCUT).save(dest, optimize=True)


@pytest.mark.parametrize("name", sorted(APPS))
def test_app_in_voila(name, voila_server, new_page, screenshots, cost):
    app = APPS[name]
    interaction = INTERACTIONS[Path(app.notebook).stem]
    page = new_page(width=1200)  # = the screenshot width: plotly in Voilà lays out once, it does not follow a resize
    console = Console(page, allow_page_errors=VOILA_KNOWN_PAGE_ERRORS)
    started = cost.start()
    try:
        check_app(name, app, interaction, page, console, voila_server, screenshots)
    finally:
        cost.record(f"Voilà {app.filename}", started, "execute, checks, screenshot, interaction")


def check_app(name, app, interaction, page, console, voila_server, screenshots):
    took = open_app(page, voila_server.url(f"voila/render/{app.filename}"), console)
    wait_placeholders_gone(page, ROOT)
    problems = []
    try:
        page.wait_for_function("() => document.querySelectorAll('.jupyter-widgets').length > 0", timeout=20_000,
                               polling=250)
    except Exception:  # noqa: BLE001 -- reported with the page's other problems
        problems.append("no widget appeared within 20 s")
    if page.locator(".jp-InputArea-editor, .jp-CodeMirrorEditor, .cm-editor").count():
        problems.append("the app shows code (Voilà should strip every source)")
    stderr = page.locator('[data-mime-type="application/vnd.jupyter.stderr"]').all_inner_texts()
    problems += [f"the app shows an error or warning output: {t[:300]!r}" for t in stderr]
    if "There was an error when executing cell" in page.locator(ROOT).inner_text():
        problems.append("Voilà reports an error while executing a cell")
    problems += placeholder_problems(page, ROOT)
    problems += plotly_problems(page, ROOT)
    ko_problems, probes = korean_font_problems(page, ROOT)
    problems += ko_problems
    shot = full_screenshot(page, screenshots / f"voila_{name}.png", "#rendered_cells, .jp-Notebook, body",
                           width=1200)
    if os.environ.get("LLM_SURVEY_DOCS_SCREENSHOTS") == "1":
        view = screenshots / f"voila_{name}_view.png"
        page.set_viewport_size({"width": 1200, "height": 860})
        page.screenshot(path=str(view))
        small_docs_png(view, DOCS_SCREENSHOTS / f"{name}.png")
    problems += interaction_problems(page, ROOT, interaction)
    errors, external = console.drain(settle_s=0.3)
    problems += errors
    print(f"{name}: executed by Voilà in {took:.1f} s; {count_plotly(page, ROOT)} plotly figure(s); "
          f"{len(probes)} Hangul probes; fonts {sorted({f for p in probes for f in p['fonts']})}; "
          f"screenshot {shot}; offline external requests: {sorted(set(external))}")
    assert not problems, f"app {name!r} in Voilà:\n  - " + "\n  - ".join(problems)
