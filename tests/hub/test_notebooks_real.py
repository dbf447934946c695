"""Every notebook, top to bottom, in the real profile against the fixture hub (nothing compared with the committed
tiny outputs): no cell fails, the models are the hub's at the fixture's commits, and nothing is a tiny stand-in."""

from __future__ import annotations

import time

import papermill
import pytest

from helpers import zoo
from survey_tools import notebooks

# parameters papermill injects after each notebook's parameters cell, to keep CI short
PARAMETERS = {"04_lora_finetune": {"MAX_STEPS": 10}, "05_korean_inference": {"ALL_PROMPTS": False}}
# the registry models each notebook loads in the real profile
MODELS = {"00_start_here": ["polyglot-ko-1.3b"], "04_lora_finetune": ["polyglot-ko-1.3b"],
          "05_korean_inference": ["polyglot-ko-1.3b", "koalpaca-polyglot-5.8b", "bloom-560m", "qwen2.5-0.5b-instruct",
                                  "kanana-nano-2.1b-base"],
          "06_kobest_scoring": ["polyglot-ko-1.3b"]}


def run(name: str, timings: dict[str, float]) -> str:
    """Execute notebook ``name`` with papermill in a fresh kernel (which inherits this process's environment);
    all its text outputs, joined. Its wall seconds go into ``timings``."""
    t0 = time.perf_counter()
    try:
        nb = papermill.execute_notebook(notebooks.NOTEBOOK_DIR / f"{name}.ipynb", None,
                                        parameters=PARAMETERS.get(name), kernel_name="python3",
                                        cwd=notebooks.NOTEBOOK_DIR, progress_bar=False, execution_timeout=600)
    except papermill.PapermillExecutionError as exc:
        pytest.fail(f"{name} failed in the real profile:\n{exc}")
    timings[name] = time.perf_counter() - t0
    texts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            texts.append(out.get("text", ""))
            texts += [str(v) for k, v in out.get("data", {}).items() if k.startswith("text/")]
    return "\n".join(texts)


@pytest.mark.parametrize("name", [p.stem for p in notebooks.notebooks()])
def test_notebook_runs_in_the_real_profile(hub, timings, name):
    text = run(name, timings)
    assert "profile real: real profile asked for" in text
    assert "tiny stand-in" not in text
    for mid in MODELS.get(name, []):
        hub_id = zoo.spec(mid).hub_id
        assert f"{hub_id}@{hub.commit(hub_id)[:12]}" in text, f"{name} does not name {hub_id} at the fixture commit"

