"""Every notebook in JupyterLab, as a student runs it: Run All in the tiny profile, then look at the page.

All notebooks are opened in turn in one Lab page (``lab_page``); each is closed, its kernel shut
down, before the next opens. Checks are scoped to the notebook under test (``[data-under-test]``).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from checks import (
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

NOTEBOOK = "[data-under-test]"
RUN_ALL_TIMEOUT_S = 180

# Open a notebook (a copy on the Lab server), mark its panel, wait for its kernel.
_OPEN = """async (path) => {
    const app = window.jupyterapp;
    for (const w of Array.from(app.shell.widgets('main'))) w.node.removeAttribute('data-under-test');
    const panel = await app.commands.execute('docmanager:open', {path, factory: 'Notebook'});
    if (!panel) return 'docmanager:open returned nothing';
    panel.node.setAttribute('data-under-test', path);
    app.shell.activateById(panel.id);
    await panel.context.ready;
    await panel.sessionContext.ready;
    const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
    if (!kernel) return 'no kernel';
    return 'ok'; }"""

# Start Run All on that panel; window.__runAllDone turns true when every cell has finished (or one failed and
# stopped the run), so the test can wait for it with a timeout instead of awaiting the command forever.
_RUN_ALL = """async (path) => {
    const app = window.jupyterapp;
    const panel = app.shell.currentWidget;
    if (!panel || panel.context.path !== path) return 'wrong notebook is current: ' + (panel && panel.context.path);
    await app.commands.execute('notebook:clear-all-cell-outputs');
    window.__runAllDone = false;
    app.commands.execute('notebook:run-all-cells').finally(() => { window.__runAllDone = true; });
    return 'ok'; }"""

# Per code cell: execution count, output types/mime types, errors, and how each output was rendered.
_CELLS = """(path) => {
    const panel = Array.from(window.jupyterapp.shell.widgets('main')).find(w => w.context && w.context.path === path);
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
                    // a widget view is a Lumino widget inside the renderer; the renderer's own error and
                    // placeholder texts ("Error displaying widget", "Loading widget...") are bare text
                    hasWidget: !!(rendered && rendered.querySelector('.jupyter-widgets, .lm-Widget')),
                    widgetText: rendered ? rendered.textContent.trim().slice(0, 120) : '',
                    hasPlotly: !!(node && node.querySelector('.js-plotly-plot'))};
        })}));
}"""

_KERNEL_IDLE = """(path) => {
    const p = Array.from(window.jupyterapp.shell.widgets('main')).find(w => w.context && w.context.path === path);
    const k = p && p.sessionContext.session && p.sessionContext.session.kernel;
    return !!k && k.status === 'idle'; }"""

# Shut the kernel down and close the panel without saving (the files are copies; outputs are not kept).
_CLOSE = """async (path) => {
    const app = window.jupyterapp;
    const panel = Array.from(app.shell.widgets('main')).find(w => w.context && w.context.path === path);
    if (!panel) return;
    await panel.sessionContext.shutdown();
    panel.context.model.dirty = false;
    panel.dispose(); }"""


# Kernel side of the widgets: every live widget's model/view class must be one that the ipywidgets front-end
# defines. A model renamed *after* its comm opened still renders in the live Lab page (the front-end built
# it from the first name) but fails on a page reload and in Voilà, which rebuild widgets from kernel state.
_WIDGET_STATE_CODE = """
def __llm_survey_widget_check():
    import json, ipywidgets
    from ipywidgets.widgets import widget as _wmod
    known, stack = set(), [ipywidgets.Widget]
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        traits = cls.class_traits()
        for mod, name in (("_model_module", "_model_name"), ("_view_module", "_view_name")):
            if mod in traits and name in traits:
                known.add((traits[mod].default_value, traits[name].default_value))
    live = getattr(_wmod, "_instances", None) or ipywidgets.Widget.widgets
    bad = []
    for w in list(live.values()):
        for mod, name in ((w._model_module, w._model_name), (w._view_module, w._view_name)):
            if name and str(mod).startswith("@jupyter-widgets/") and (mod, name) not in known:
                bad.append(f"{type(w).__name__} widget {w.model_id[:8]} has {name!r}, which {mod} does not define")
    return json.dumps(sorted(set(bad)))
"""

_KERNEL_EVAL = """async ([path, code, expr]) => {
    const p = Array.from(window.jupyterapp.shell.widgets('main')).find(w => w.context && w.context.path === path);
    const kernel = p.sessionContext.session.kernel;
    const future = kernel.requestExecute({code, silent: true, store_history: false, user_expressions: {r: expr}});
    const reply = await future.done;
    const r = reply.content.user_expressions && reply.content.user_expressions.r;
    if (!r) return {error: 'no reply: ' + JSON.stringify(reply.content).slice(0, 300)};
    if (r.status !== 'ok') return {error: r.ename + ': ' + r.evalue};
    return {value: r.data['text/plain']}; }"""


def widget_state_problems(page, notebook: str) -> list[str]:
    import ast
    import json

    res = page.evaluate(_KERNEL_EVAL, [notebook, _WIDGET_STATE_CODE, "__llm_survey_widget_check()"])
    if "error" in res:
        return [f"could not read the kernel's widget state: {res['error']}"]
    return [f"{p} (renders in this live page, fails on reload and in Voilà)"
            for p in json.loads(ast.literal_eval(res["value"]))]


def cell_problems(cells: list[dict]) -> list[str]:
    out = []
    for c in cells:
        where = f"cell {c['index']} ({c['source'].splitlines()[0] if c['source'] else ''!r})"
        if c["source"].strip() and c["count"] is None:
            out.append(f"{where} did not run (Run All stopped before it)")
        for o in c["outputs"]:
            if o["type"] == "error":
                out.append(f"{where} raised {o['ename']}: {o['evalue']}")
            # no view and no text: a widget closed by the kernel (a finished tqdm bar): nothing to see, fine
            if "application/vnd.jupyter.widget-view+json" in o["mimes"] and not o["hasWidget"] and o["widgetText"]:
                out.append(f"{where}: a widget output is not rendered as a widget "
                           f"(rendered as {o['renderedMime'] or 'nothing'}; shows {o['widgetText']!r})")
            if "application/vnd.plotly.v1+json" in o["mimes"] and not o["hasPlotly"]:
                out.append(f"{where}: a plotly output is not rendered by plotly (rendered as {o['renderedMime']})")
    return out


@pytest.mark.parametrize("notebook", notebook_ids())
def test_notebook_in_jupyterlab(notebook, lab_page, lab_server, screenshots, cost):
    stem = Path(notebook).stem
    interaction = INTERACTIONS.get(stem)
    assert interaction is not None, f"{notebook}: add its entry to tests/browser/interactions.py"
    page = lab_page
    page.console_log.drain()  # what an earlier notebook left behind is that test's business
    started = cost.start()
    try:
        status = page.evaluate(_OPEN, notebook)
        assert status == "ok", f"{notebook}: {status}\n{lab_server.log_tail()}"
        status = page.evaluate(_RUN_ALL, notebook)
        assert status == "ok", status
        try:
            page.wait_for_function("() => window.__runAllDone === true", timeout=RUN_ALL_TIMEOUT_S * 1000,
                                   polling=250)
            page.wait_for_function(_KERNEL_IDLE, arg=notebook, timeout=30_000, polling=250)
        except Exception as exc:  # noqa: BLE001
            raise AssertionError(f"{notebook}: Run All did not finish within {RUN_ALL_TIMEOUT_S} s "
                                 f"({str(exc).splitlines()[0]})") from None
        ran_s = time.monotonic() - started[0]
        wait_placeholders_gone(page, NOTEBOOK)

        problems = cell_problems(page.evaluate(_CELLS, notebook))
        problems += placeholder_problems(page, NOTEBOOK)
        problems += widget_state_problems(page, notebook)
        problems += plotly_problems(page, NOTEBOOK)
        ko_problems, probes = korean_font_problems(page, NOTEBOOK)
        problems += ko_problems
        shot = full_screenshot(page, screenshots / f"lab_{stem}.png", NOTEBOOK + " .jp-WindowedPanel-outer")
        problems += interaction_problems(page, NOTEBOOK, interaction)
        errors, external = page.console_log.drain(settle_s=0.3)
        problems += errors
        print(f"{notebook}: opened and ran in {ran_s:.1f} s; {count_plotly(page, NOTEBOOK)} plotly figure(s); "
              f"{len(probes)} Hangul probes; fonts {sorted({f for p in probes for f in p['fonts']})}; "
              f"screenshot {shot}; offline external requests: {sorted(set(external))}")
    finally:
        page.evaluate(_CLOSE, notebook)
        cost.record(f"Lab {notebook}", started, "open, Run All, checks, screenshot, interaction, close")
    assert not problems, f"{notebook} in JupyterLab:\n  - " + "\n  - ".join(problems)
