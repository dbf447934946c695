"""Every notebook in JupyterLab, as a student runs it: Run All in the tiny profile, then look at the page."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from checks import (
    Console,
    count_plotly,
    full_screenshot,
    interaction_problems,
    korean_font_problems,
    notebook_ids,
    placeholder_problems,
    plotly_problems,
    wait_placeholders_gone,
)
from interactions import INTERACTIONS

pytestmark = pytest.mark.browser

NOTEBOOK = ".jp-NotebookPanel"
RUN_ALL_TIMEOUT_S = 180

# Lab 4's command registry acts on the *current* notebook: make the one we opened current first.
_OPEN = """async (path) => {
    const app = window.jupyterapp;
    const panel = Array.from(app.shell.widgets('main')).find(w => w.context && w.context.path === path);
    if (!panel) return 'no panel';
    app.shell.activateById(panel.id);
    await panel.context.ready;
    await panel.sessionContext.ready;
    if (!panel.sessionContext.session || !panel.sessionContext.session.kernel) return 'no kernel';
    return 'ok'; }"""

_RUN_ALL = """async (path) => {
    const app = window.jupyterapp;
    const panel = app.shell.currentWidget;
    if (!panel || panel.context.path !== path) return 'wrong notebook is current';
    await app.commands.execute('notebook:clear-all-cell-outputs');
    await app.commands.execute('notebook:run-all-cells');
    return 'ok'; }"""

# Per code cell: execution count, output types/mime types, errors, and how each output was rendered.
_CELLS = """() => {
    const panel = window.jupyterapp.shell.currentWidget;
    return panel.content.widgets.map((cell, index) => ({index, cell}))
      .filter(x => x.cell.model.type === 'code').map(({index, cell}) => ({
        index,
        source: cell.model.sharedModel.getSource().slice(0, 80),
        count: cell.model.executionCount,
        outputs: cell.model.outputs.toJSON().map((o, k) => {
            const child = cell.outputArea.widgets[k];
            const node = child ? child.node : null;
            const rendered = node ? node.querySelector('.jp-OutputArea-output') : null;
            return {type: o.output_type, ename: o.ename || null, evalue: (o.evalue || '').slice(0, 300),
                    mimes: Object.keys(o.data || {}),
                    renderedMime: rendered ? (rendered.dataset.mimeType || null) : null,
                    hasWidget: !!(node && node.querySelector('.jupyter-widgets')),
                    hasPlotly: !!(node && node.querySelector('.js-plotly-plot'))};
        })}));
}"""

_KERNEL_IDLE = """() => { const p = window.jupyterapp.shell.currentWidget;
    const k = p && p.sessionContext.session && p.sessionContext.session.kernel;
    return !!k && k.status === 'idle'; }"""


def cell_problems(cells: list[dict]) -> list[str]:
    out = []
    for c in cells:
        where = f"cell {c['index']} ({c['source'].splitlines()[0] if c['source'] else ''!r})"
        if c["source"].strip() and c["count"] is None:
            out.append(f"{where} did not run (Run All stopped before it)")
        for o in c["outputs"]:
            if o["type"] == "error":
                out.append(f"{where} raised {o['ename']}: {o['evalue']}")
            if "application/vnd.jupyter.widget-view+json" in o["mimes"] and not o["hasWidget"]:
                out.append(f"{where}: a widget output is not rendered as a widget "
                           f"(rendered as {o['renderedMime'] or 'nothing'})")
            if "application/vnd.plotly.v1+json" in o["mimes"] and not o["hasPlotly"]:
                out.append(f"{where}: a plotly output is not rendered by plotly (rendered as {o['renderedMime']})")
    return out


@pytest.mark.parametrize("notebook", notebook_ids())
def test_notebook_in_jupyterlab(notebook, lab_server, new_page, screenshots):
    stem = Path(notebook).stem
    interaction = INTERACTIONS.get(stem)
    assert interaction is not None, f"{notebook}: add its entry to tests/browser/interactions.py"
    page = new_page()
    console = Console(page)
    t0 = time.monotonic()
    # ?reset: a fresh workspace, so no notebook of an earlier test is restored next to this one
    page.goto(lab_server.url(f"lab/tree/{notebook}?reset"))
    page.wait_for_function("(p) => { const a = window.jupyterapp; return !!(a && Array.from(a.shell.widgets('main'))"
                           ".some(w => w.context && w.context.path === p)); }", arg=notebook, timeout=90_000)
    assert page.evaluate(_OPEN, notebook) == "ok", f"{notebook}: no kernel\n{lab_server.log_tail()}"
    status = page.evaluate(_RUN_ALL, notebook)
    assert status == "ok", status
    page.wait_for_function(_KERNEL_IDLE, timeout=RUN_ALL_TIMEOUT_S * 1000)
    ran_s = time.monotonic() - t0
    wait_placeholders_gone(page, NOTEBOOK)

    problems = cell_problems(page.evaluate(_CELLS))
    problems += placeholder_problems(page, NOTEBOOK)
    problems += plotly_problems(page, NOTEBOOK)
    ko_problems, probes = korean_font_problems(page, NOTEBOOK)
    problems += ko_problems
    full_screenshot(page, screenshots / f"lab_{stem}.png", ".jp-WindowedPanel-outer")
    problems += interaction_problems(page, NOTEBOOK, interaction)
    time.sleep(0.5)
    problems += console.errors
    page.evaluate("() => window.jupyterapp.shell.currentWidget.sessionContext.shutdown()")
    print(f"{notebook}: opened and ran in {ran_s:.1f} s; {count_plotly(page, NOTEBOOK)} plotly figure(s); "
          f"{len(probes)} Hangul probes; fonts {sorted({f for p in probes for f in p['fonts']})}; "
          f"offline external requests: {sorted(set(console.external))}")
    assert not problems, f"{notebook} in JupyterLab:\n  - " + "\n  - ".join(problems)
