"""Instruction datasets opened up: loaders, prompt templates, statistics, duplicates.

Templates
---------
Prompt templates are data (``data/instruct/templates/*.json``), never strings in code.
``render(record, name)`` returns ``(prompt, answer)``: ``prompt + answer`` is the exact
text the model sees, and only ``answer`` carries the loss (the prompt is masked).
``render_conversation(turns, "vicuna_v1_1")`` does the same for multi-turn chats and
returns :class:`Segment` objects with a ``loss`` flag.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from helpers import env

__all__ = [
    "Segment", "templates", "template", "render", "render_marked", "render_conversation",
    "conversation_text",
]


def instruct_dir() -> Path:
    """``data/instruct`` (our samples, templates, source registry)."""
    return env.data_path("instruct")


# ---------------------------------------------------------------------------
# Templates
# ---------------------------------------------------------------------------

_TEMPLATE_KEYS_SINGLE = ("prompt_input", "prompt_no_input", "answer_format", "response_split",
                         "eos", "source", "description", "kind")
_TEMPLATE_KEYS_CONV = _TEMPLATE_KEYS_SINGLE + ("system", "roles", "sep", "sep2")


@lru_cache(maxsize=None)
def _template_files() -> dict[str, Path]:
    folder = instruct_dir() / "templates"
    return {p.stem: p for p in sorted(folder.glob("*.json"))}


@lru_cache(maxsize=None)
def _read_template(path: str) -> dict:
    p = Path(path)
    try:
        t = json.loads(p.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ValueError(f"{p}: line {e.lineno}: not valid JSON ({e.msg})") from e
    need = _TEMPLATE_KEYS_CONV if t.get("kind") == "conversation" else _TEMPLATE_KEYS_SINGLE
    for key in need:
        if key not in t:
            raise ValueError(f"{p}: field {key!r} missing (template needs {', '.join(need)})")
    if "{output}" not in t["answer_format"]:
        raise ValueError(f"{p}: field 'answer_format' must contain '{{output}}'")
    if t.get("name", p.stem) != p.stem:
        raise ValueError(f"{p}: field 'name' is {t['name']!r} but the file is {p.stem!r}")
    t["name"] = p.stem
    return t


def template(name: str) -> dict:
    """One prompt template as a dict (a copy; editing it changes nothing on disk)."""
    files = _template_files()
    if name not in files:
        raise KeyError(f"unknown template {name!r}; known: {', '.join(files)}")
    return dict(_read_template(str(files[name])))


def templates():
    """All templates as a DataFrame (name, kind, description, source, note)."""
    import pandas as pd

    rows = []
    for name in _template_files():
        t = template(name)
        rows.append({k: t.get(k, "") for k in ("name", "kind", "description", "source", "note")})
    return pd.DataFrame(rows)


def _get(record: Mapping[str, Any], key: str) -> str:
    v = record.get(key, "")
    if v is None:
        return ""
    try:  # pandas NA / NaN
        if v != v:
            return ""
    except (TypeError, ValueError):
        pass
    return str(v)


def render(record: Mapping[str, Any], template_name: str = "stanford_alpaca",
           eos_token: str | None = None) -> tuple[str, str]:
    """Return ``(prompt, answer)`` for one record.

    ``prompt + answer`` is the exact training text. ``answer`` is the part that carries
    the loss. Where the template's ``eos`` is true and ``eos_token`` is given, the answer
    ends with it (the Stanford/KoAlpaca scripts append ``tokenizer.eos_token``); templates
    whose separator already is an end marker (Vicuna's ``</s>``) have ``eos: false``.
    The ``*_input`` variant is used when the record's ``input`` is non-empty after strip.
    """
    t = template(template_name)
    if "instruction" not in record:
        raise KeyError(f"record has no 'instruction' field (fields: {sorted(record)})")
    instruction = _get(record, "instruction")
    inp = _get(record, "input")
    fmt = t["prompt_input"] if inp.strip() else t["prompt_no_input"]
    prompt = fmt.replace("{instruction}", instruction).replace("{input}", inp)
    answer = t["answer_format"].replace("{output}", _get(record, "output"))
    if t["eos"] and eos_token:
        answer += eos_token
    return prompt, answer


def render_marked(record: Mapping[str, Any], template_name: str = "stanford_alpaca",
                  eos_token: str | None = None, marks: tuple[str, str] = ("⟦", "⟧")) -> str:
    """The training text with the loss-carrying part between ``marks``."""
    prompt, answer = render(record, template_name, eos_token)
    return f"{prompt}{marks[0]}{answer}{marks[1]}"


@dataclass(frozen=True)
class Segment:
    """A piece of a rendered conversation; ``loss`` says whether it is trained on."""
    text: str
    loss: bool
    role: str  # "system", "user" or "assistant"


def _turn(turn: Any, i: int) -> tuple[str, str]:
    if isinstance(turn, Mapping):
        role = turn.get("role", turn.get("from"))
        text = turn.get("text", turn.get("content", turn.get("value")))
    else:
        role, text = turn
    role = {"prompter": "user", "human": "user", "gpt": "assistant"}.get(role, role)
    if role not in ("user", "assistant"):
        raise ValueError(f"turn {i}: field 'role' is {role!r}; expected user/prompter/human "
                         "or assistant/gpt")
    if not isinstance(text, str):
        raise ValueError(f"turn {i}: field 'text' must be a string, got {type(text).__name__}")
    return role, text


def render_conversation(turns: Sequence[Any], template_name: str = "vicuna_v1_1",
                        system: str | None = None) -> list[Segment]:
    """Render a multi-turn conversation into segments, FastChat ``ADD_COLON_TWO`` style.

    ``turns`` alternate user/assistant, starting with the user (dicts with ``role`` and
    ``text``/``content``, or ``(role, text)`` pairs; OASST's ``prompter`` counts as user).
    A trailing user turn yields an open ``"ASSISTANT:"`` for generation. Each assistant
    reply with its closing ``sep2`` carries the loss; everything else is masked.
    ``"".join(s.text for s in segments)`` is the exact model input.
    """
    t = template(template_name)
    if t["kind"] != "conversation":
        raise ValueError(f"template {template_name!r} is kind {t['kind']!r}, "
                         "not a conversation template")
    roles = t["roles"]
    parsed = [_turn(x, i) for i, x in enumerate(turns)]
    for i, (role, _) in enumerate(parsed):
        want = "user" if i % 2 == 0 else "assistant"
        if role != want:
            raise ValueError(f"turn {i}: field 'role' is {role!r}; turns must alternate "
                             f"user/assistant starting with user (expected {want!r})")
    sys_text = t["system"] if system is None else system
    segs = [Segment(sys_text + t["sep"], False, "system")]
    pending = ""
    for role, text in parsed:
        if role == "user":
            pending += f"{roles['user']}: {text}{t['sep']}{roles['assistant']}:"
        else:
            segs.append(Segment(pending, False, "user"))
            pending = ""
            segs.append(Segment(f" {text}{t['sep2']}", True, "assistant"))
    if pending:
        segs.append(Segment(pending, False, "user"))
    return segs


def conversation_text(segments: Iterable[Segment], marks: tuple[str, str] | None = None) -> str:
    """Join segments; with ``marks`` the loss-carrying ones are wrapped for display."""
    out = []
    for s in segments:
        out.append(f"{marks[0]}{s.text}{marks[1]}" if (marks and s.loss) else s.text)
    return "".join(out)
