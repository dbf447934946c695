"""What each notebook's widgets must do in a real browser: one interaction per notebook.

Every notebook in ``notebooks/`` needs one entry in :data:`INTERACTIONS`, keyed by its file stem
(``test_interactions_cover_every_notebook`` fails otherwise, even without Chromium). An entry is either

* ``Interaction(does, steps, watch, expect)``: the browser test performs ``steps`` on the widget that
  holds the first step's control, then checks that what ``watch`` selects *inside that widget* changed
  as ``expect`` says; or
* ``NoWidgets(why)``: the notebook shows no widget (the test then checks that it really shows none).

Controls are found the way a student finds them, by their visible ipywidgets ``description`` (the
label left of the control) or, for buttons, their text, so notebook authors give controls a
``description=``/button text and add one entry here; nothing else in the notebook changes.

Steps:  ``select("용도", "연구 (research)")``  choose option(s) by visible text (Dropdown, Select,
        SelectMultiple: listing several options selects exactly those);
        ``click("다음")``                      press the button with that text;
        ``fill("프롬프트", "안녕하세요")``       type into a Text/Textarea;
        ``press("크기(B)", "ArrowRight", 3)``   press a key on a slider's handle (or any control).
Expect: ``"text"`` the watched text differs afterwards and is not empty; ``"fewer"``/``"more"``: the
        number of watched elements shrinks/grows and stays above zero. ``contains`` (a regex) must then
        match the watched text, to pin the expected answer where one is known.

An entry follows the notebook's widgets as written now: when a notebook gains or changes a widget,
change its entry in the same commit.
"""

from __future__ import annotations

from dataclasses import dataclass, field

EXPECTS = ("text", "fewer", "more")


@dataclass(frozen=True)
class Step:
    action: str        # "select" | "click" | "fill" | "press"
    target: str        # a control's description label, or a button's text for "click"
    values: tuple = ()  # options to select, text to type, or (key, times)


def select(label: str, *options: str) -> Step:
    return Step("select", label, tuple(options))


def click(button: str) -> Step:
    return Step("click", button)


def fill(label: str, text: str) -> Step:
    return Step("fill", label, (text,))


def press(label: str, key: str, times: int = 1) -> Step:
    return Step("press", label, (key, times))


@dataclass(frozen=True)
class Interaction:
    does: str                      # one line: what the student does and what they should see
    steps: tuple[Step, ...]
    watch: str = ".widget-output"  # CSS selector inside the widget
    expect: str = "text"           # one of EXPECTS
    contains: str | None = None    # regex the watched text must match afterwards
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        if not self.steps:
            raise ValueError(f"interaction {self.does!r}: needs at least one step")
        if self.expect not in EXPECTS:
            raise ValueError(f"interaction {self.does!r}: expect={self.expect!r}, not one of {EXPECTS}")
        for step in self.steps:
            if step.action not in ("select", "click", "fill", "press"):
                raise ValueError(f"interaction {self.does!r}: unknown step action {step.action!r}")


@dataclass(frozen=True)
class NoWidgets:
    why: str


INTERACTIONS: dict[str, Interaction | NoWidgets] = {
    "00_start_here": NoWidgets("orientation notebook: environment report, tables and links, no widget"),
    "01_model_landscape": Interaction(
        does="한국어 필터에서 'yes'만 고르면 모델 표의 행이 줄어든다 (Korean filter narrows the table)",
        steps=(select("한국어", "yes"),),
        watch=".widget-output table tbody tr",
        expect="fewer",
    ),
    "02_license_matrix": Interaction(
        does="용도를 '연구 (research)'로 바꾸면 판정 설명이 바뀐다 (the answer follows the chosen use)",
        steps=(select("모델", "llama"), select("용도", "연구 (research)")),
        watch=".widget-output",
        expect="text",
        contains=r"llama / research",
    ),
    "03_alpaca_data_anatomy": Interaction(
        does="레코드 슬라이더 i를 한 칸 옮기면 다음 레코드의 프롬프트가 보인다 (the data browser moves on)",
        steps=(press("i", "ArrowRight", 1),),
        watch=".widget-output",
        expect="text",
    ),
    "04_lora_finetune": NoWidgets("training runs, loss curves and tables; no widget (as of its first version)"),
    "05_korean_inference": Interaction(
        does="'생성 (generate)'를 누르면 모델이 이어 쓴 글이 나온다 (the inference widget produces text)",
        steps=(click("생성 (generate)"),),
        watch=".widget-html",
        expect="text",
        contains=r"tiny stand-in for .*· \d+\.\d s",  # the finished answer: label, stand-in note, seconds
    ),
    "06_kobest_scoring": NoWidgets("scores and tables only (as of its first version); declare an Interaction "
                                   "here when a widget is added"),
}
