"""Licence terms as data, and a resolver that says what a model may be used for, and why.

Not legal advice (법률 자문이 아님). The resolver makes one reading of licence texts visible and
checkable; it does not replace reading them or asking counsel.

``data/licenses/licenses.yaml`` holds, per licence id, the terms a reader needs (attribution, commercial use,
derivatives, share-alike, use-based restrictions, redistribution, research) and special conditions (user thresholds,
naming rules, acceptable-use policies), each with its clause number and a URL; the pydantic class :class:`License` is
its schema. ``verdict(model_id, use)`` walks a model's chain of terms (:meth:`Resolver.reasons`): ``allowed`` is the
most restrictive effect of the chain, no < conditional < yes. Explanations are Korean (licence ids, section numbers and
URLs as they are); a family whose sizes differ in licence or base gets one answer per size (:meth:`Resolver.entries`).
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Generic, Literal, NamedTuple, TypeVar

import networkx as nx
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, StrictBool, with_config
from pydantic.functional_validators import BeforeValidator
from typing_extensions import TypedDict

from . import catalog, plots
from .catalog import split
from .env import data_path, read_yaml

USE_TERMS = {"commercial": ("commercial",), "research": ("research",), "redistribute-weights": ("redistribution",),
             "finetune-release": ("derivatives", "redistribution")}  # each use and the licence terms that decide it
USES = tuple(USE_TERMS)
USE_LABELS_KO = {"commercial": "상업적 이용", "research": "연구", "redistribute-weights": "가중치 재배포",
                 "finetune-release": "미세조정 후 공개"}
EFFECTS = ("no", "conditional", "yes")  # ordered: most restrictive first
NOT_ASSESSED = "not-assessed"
EFFECT_KO = {"no": "불가", "conditional": "조건부", "yes": "가능", NOT_ASSESSED: "판단 안 함"}
LAYER_KO = {"own-weights": "자기 가중치", "base-model": "기반 모델", "training-data": "학습 데이터",
            "data-generator-api": "데이터 생성 API"}
LAYERS = tuple(LAYER_KO)

DISCLAIMER_KO = "법률 자문이 아님 (not legal advice): 라이선스 원문과 전문가 확인이 최종 기준입니다."


def ko(effect: str) -> str:
    """``'conditional'`` -> ``'조건부 (conditional)'``."""
    return f"{EFFECT_KO[effect]} ({effect})"


class LicenseDataError(ValueError):
    """Bad licence data: each line of the message names the file, line, licence id and field."""


# --------------------------------------------------------------------------- data: the schema of licenses.yaml
V = TypeVar("V")


class Term(BaseModel, Generic[V]):
    model_config = ConfigDict(frozen=True, coerce_numbers_to_str=True, str_strip_whitespace=True)

    value: V
    section: Annotated[str, Field(min_length=1)]  # every term cites its clause
    note: Annotated[str, BeforeValidator(lambda note: note or "")] = ""


@with_config(ConfigDict(extra="forbid"))
class Terms(TypedDict):
    commercial: Term[Literal[EFFECTS]]  # a permission
    derivatives: Term[Literal[EFFECTS]]
    redistribution: Term[Literal[EFFECTS]]
    research: Term[Literal[EFFECTS]]
    attribution: Term[Literal["required", "partial", "not-required"]]  # an obligation
    share_alike: Term[Literal["required", "partial", "not-required"]]
    use_restrictions: Term[Literal["yes", "no"]]


class Condition(BaseModel):
    model_config = ConfigDict(frozen=True, coerce_numbers_to_str=True)

    kind: str
    section: str
    applies_to: tuple[Literal[USES], ...]
    note: str
    value: float | int | str | None = None  # e.g. a user threshold


class License(BaseModel):
    model_config = ConfigDict(frozen=True, coerce_numbers_to_str=True)

    id: str = ""  # the key of its entry
    name: str
    kind: Literal["model-licence", "content-licence", "software-licence", "api-terms", "none"]
    url: Annotated[str, Field(pattern="^https?://")]
    source: Annotated[tuple[Annotated[str, Field(pattern="^https?://")], ...], Field(min_length=1)]  # URLs read
    read_in_full: StrictBool  # false: terms from the licensor's summary or a secondary reading
    note: Annotated[str, BeforeValidator(lambda note: note or "")]
    terms: Terms
    conditions: Annotated[tuple[Condition, ...], BeforeValidator(lambda conditions: conditions or ())]

    def effect(self, use: str) -> tuple[str, str, str]:
        """``(effect, section, note)`` this licence gives ``use`` (the stricter of its terms in
        :data:`USE_TERMS`), conditions appended to the note."""
        if use not in USES:
            raise ValueError(f"unknown use {use!r}; expected one of {USES}")
        terms = [self.terms[name] for name in USE_TERMS[use]]
        notes = [t.note for t in terms if t.note] + [f"{c.note} (§{c.section})" for c in self.conditions
                                                      if use in c.applies_to]
        return (strictest(t.value for t in terms), " / ".join(dict.fromkeys(t.section for t in terms)),
                "; ".join(notes))


class LicenceFile(BaseModel):
    licenses: dict[str, License] = Field(min_length=1)  # by licence id


def load_licenses(path: str | Path | None = None) -> dict[str, License]:
    """All licences from ``data/licenses/licenses.yaml`` (or ``path``), validated: a problem raises
    :class:`LicenseDataError` naming the file, the line, the licence id and the field."""
    p = Path(path) if path else data_path("licenses", "licenses.yaml")
    return _load_cached(str(p), p.stat().st_mtime)


@lru_cache(maxsize=4)
def _load_cached(path: str, mtime: float) -> dict[str, License]:
    entries = read_yaml(path, LicenceFile, LicenseDataError).licenses
    return {lid: licence.model_copy(update={"id": lid}) for lid, licence in entries.items()}


def terms_table(licenses: dict[str, License] | None = None) -> pd.DataFrame:
    """One row per licence: every term's value and clause, plus name and URL."""
    rows = []
    for lid, licence in (licenses or load_licenses()).items():
        row = {"license": lid, "name": licence.name, "kind": licence.kind}
        for name, term in licence.terms.items():
            row[name], row[f"{name}_section"] = term.value, term.section
        row["conditions"] = "; ".join(f"{c.kind} (§{c.section})" for c in licence.conditions)
        rows.append(dict(row, read_in_full=licence.read_in_full, url=licence.url))
    return pd.DataFrame(rows).set_index("license")


CC_COLUMNS = {"attribution": "저작자 표시", "commercial": "상업적 이용",
              "derivatives": "파생물 생산", "share_alike": "동일조건 배포"}
_SYMBOL = {"yes": "O", "required": "O", "no": "X", "not-required": "X", "conditional": "△", "partial": "△"}


def cc_table(licenses: dict[str, License] | None = None, ids: Iterable[str] | None = None) -> pd.DataFrame:
    """The survey's CC table (저작자 표시 / 상업적 이용 / 파생물 생산 / 동일조건 배포), from the data:
    O = yes / required, X = no / not required, △ = conditional / partial."""
    table = terms_table(licenses)[list(CC_COLUMNS)]
    return (table.loc[list(ids)] if ids else table).replace(_SYMBOL).rename(columns=CC_COLUMNS)


# --------------------------------------------------------------------------- verdicts
class Reason(NamedTuple):
    layer: str
    subject: str
    license_id: str
    effect: str
    source: str
    note: str
    path: tuple[str, ...] = ()  # the nodes from the model to the subject, e.g. (base, dataset, api)


class Verdict(NamedTuple):
    model: str
    use: str
    allowed: str
    reasons: list[Reason]
    label: str
    label_effect: str
    label_mismatch: bool
    size: float | None = None  # the size asked for; None: what holds for every size

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.reasons, columns=Reason._fields).drop(columns="path")

    def binding(self) -> list[Reason]:
        """The reasons whose effect equals the verdict (the ones that decided it)."""
        return [r for r in self.reasons if r.effect == self.allowed]

    def decided_by(self) -> str:
        """``layer:licence`` of the binding reasons, e.g. ``base-model:llama-1-research; training-data:...``."""
        return "; ".join(sorted({f"{r.layer}:{r.license_id}" for r in self.binding()}))

    def explain(self) -> str:
        """The verdict and every reason in Korean (* = a reason that decided it), then the disclaimer."""
        size = f" ({self.size:g}B)" if self.size is not None else ""
        lines = [f"{self.model}{size} / {self.use} ({USE_LABELS_KO[self.use]}): {ko(self.allowed)}"]
        if self.label_mismatch:
            lines.append(f"  ! 표시 불일치 (label mismatch): 모델 카드의 라이선스 {self.label!r}만 보면 "
                         f"{ko(self.label_effect)}, 사슬 전체로는 {ko(self.allowed)}")
        for r in self.reasons:
            mark = "*" if r.effect == self.allowed else "-"
            lines += [f"  {mark} [{LAYER_KO[r.layer]}] {r.subject} · {r.license_id} → {EFFECT_KO[r.effect]}: "
                      f"{r.note}", f"      {r.source}"]
        lines.append(DISCLAIMER_KO)
        return "\n".join(lines)

    def badge(self) -> str:
        """The answer as large coloured HTML (the licence checker's headline)."""
        return (f'<div style="font-size:1.8em;padding:.3em .6em;border-radius:.3em;display:inline-block;'
                f'background:{EFFECT_COLOURS[self.allowed]}">{USE_LABELS_KO[self.use]} → {ko(self.allowed)}</div>')


def strictest(effects: Iterable[str]) -> str:
    """Most restrictive of ``effects`` (``not-assessed`` ignored); ``yes`` for none."""
    ranked = [e for e in effects if e != NOT_ASSESSED]
    if unknown := set(ranked) - set(EFFECTS):
        raise ValueError(f"unknown effect {unknown.pop()!r}; expected {EFFECTS}")
    return min(ranked, key=EFFECTS.index) if ranked else "yes"


def is_pretraining_corpus(dataset: dict) -> bool:
    """True for web-scale pre-training corpora: data only scraped (not generated, translated or written)."""
    how_made = str(dataset.get("how_made") or "").split(" + ")
    return how_made == ["scraped"] and not split(dataset.get("generated_by_api"))


def data_effect(terms: License, use: str) -> tuple[str, str]:
    """Effect a dataset licence has on a model trained on it, with the reasoning. Are weights an adaptation of
    their training data? The question is open; we take the conservative reading that the dataset's authors
    themselves state for Alpaca: non-commercial data makes commercial use of the model ``no``, share-alike data
    makes releasing weights ``conditional``, and data with no stated licence is ``conditional``."""
    eff, sec, note = terms.effect(use)
    if terms.id == "unknown" and use == "research":
        return "yes", "데이터에 라이선스가 밝혀져 있지 않음; 학습된 모델을 연구에 쓰는 데는 문제가 되지 않음"
    if terms.id == "unknown":
        return "conditional", ("데이터에 라이선스가 밝혀져 있지 않음: 권리 관계가 불분명해서 이 데이터로 학습한 모델의 "
                               "이용에도 그 불확실성이 따라옴")
    if use == "commercial" and eff == "no":
        return "no", (f"비상업 데이터 (§{sec}); 모델 가중치가 학습 데이터의 2차적 저작물인지는 정리되지 않았지만, "
                      "데이터 작성자 스스로 밝힌 보수적 해석(예: Alpaca에 대한 Stanford의 설명)을 따름")
    if use == "commercial":
        return eff, f"데이터 라이선스가 상업적 이용을 허용: {note} (§{sec})"
    if use == "research":
        return eff, f"{note} (§{sec})" if note else f"§{sec}"
    sa = terms.terms["share_alike"]
    if sa.value == "required":
        return "conditional", (f"동일조건변경허락 데이터 (§{sa.section}): 가중치가 2차적 저작물(Adapted Material)이면 "
                               "같은 라이선스로 공개해야 함 - 법적으로 정리되지 않음")
    if eff == "no":
        return "conditional", f"데이터 라이선스가 재배포를 허락하지 않음 (§{sec}); 가중치에 미치는 효과는 정리되지 않음"
    return "yes", f"데이터 라이선스가 이 데이터로 학습한 모델의 공개를 제한하지 않음 (§{sec})"


class Resolver:
    """Resolve verdicts against catalog frames and licence data. The frames need the catalog's columns: ``id``,
    ``weights_license``, ``sizes_b``, ``base_model``, ``training_data`` for models; ``id``, ``license``,
    ``how_made``, ``generated_by_api``, ``translated_from`` (optionally ``source``) for datasets. Empty licence
    cells read as ``unknown``."""

    def __init__(self, models: pd.DataFrame, datasets: pd.DataFrame, licenses: dict[str, License] | None = None):
        self.licenses = licenses or load_licenses()
        self.models = {str(row["id"]): row for row in models.to_dict("records")}
        self.datasets = {str(row["id"]): row for row in datasets.to_dict("records")}

    def license(self, lid: str, where: str) -> License:
        if lid not in self.licenses:
            raise LicenseDataError(f"{where}: licence id {lid!r} is not in data/licenses/licenses.yaml "
                                   f"(known: {', '.join(sorted(self.licenses))})")
        return self.licenses[lid]

    def _per_size(self, mid: str, field: str, size: float | None) -> dict[str, list[str]]:
        """The items of model ``mid``'s ``field`` (one, or one per size) that hold for ``size`` (None: any size),
        each with the sizes it holds for (none listed where one item holds for every size)."""
        items, sizes = split(self.models[mid].get(field)), split(self.models[mid].get("sizes_b"))
        if size is not None and float(size) not in {float(sz) for sz in sizes}:
            raise ValueError(f"model {mid!r} has no size {size!r}; sizes: {sizes}")
        if len(items) <= 1:
            return dict.fromkeys(items, [])
        if len(items) != len(sizes):
            raise LicenseDataError(f"model {mid!r}: {len(items)} values in {field!r} for {len(sizes)} sizes; "
                                   "per-size values must align with 'sizes_b'")
        groups: dict[str, list[str]] = {}
        for item, sz in zip(items, sizes):
            if size is None or float(sz) == float(size):
                groups.setdefault(item, []).append(sz)
        return groups

    # ---- layers
    def _own(self, mid: str, use: str, size: float | None = None) -> list[Reason]:
        """Own-weights reasons; a family whose sizes carry different licences gets one per licence."""
        out = []
        for lid, sizes in (self._per_size(mid, "weights_license", size) or {"unknown": []}).items():
            terms = self.license(lid, f"model {mid!r}, field 'weights_license'")
            eff, sec, note = terms.effect(use)
            subject = f"{mid} [{'/'.join(sizes)}B]" if sizes else mid
            out.append(Reason("own-weights", subject, lid, eff, terms.url, f"§{sec}: {note}" if note else f"§{sec}"))
        return out

    def _dataset_reasons(self, did: str, use: str, seen: frozenset = frozenset(), via: tuple = ()) -> list[Reason]:
        path = (*via, did)  # a translation's source follows the data translated from it
        subject = " ← ".join(path)
        if did not in self.datasets:
            raise LicenseDataError(f"training data {did!r} is not in the catalog's datasets")
        if did in seen:
            return []
        seen, ds, out = seen | {did}, self.datasets[did], []
        src = split(ds.get("source"))
        corpus = (NOT_ASSESSED, "여러 라이선스가 섞인 웹 규모 사전학습 말뭉치: 공개자들은 문서의 라이선스가 아니라 "
                  "저작권 예외(공정 이용, TDM)에 기댐 - 여기서는 판단하지 않음"
                  + (f"; 데이터 정보: {src[0]}" if src else ""))
        for lid in split(ds.get("license")) or ["unknown"]:
            terms = self.license(lid, f"dataset {did!r}, field 'license'")
            eff, note = corpus if is_pretraining_corpus(ds) else data_effect(terms, use)
            out.append(Reason("training-data", subject, lid, eff, terms.url, note, path))
        for api in split(ds.get("generated_by_api")):
            api_terms = self.license(api, f"dataset {did!r}, field 'generated_by_api'")
            eff, sec, note = api_terms.effect(use)
            out.append(Reason("data-generator-api", f"{subject} ← {api}", api, eff, api_terms.url,
                              f"§{sec}: {note}; 이 약관은 API를 호출한 쪽(데이터셋 제작자)을 구속하며, 데이터나 "
                              "모델을 나중에 쓰는 사람에게까지 미치는지는 분명하지 않음", (*path, api)))
        for parent in split(ds.get("translated_from")):
            out += self._dataset_reasons(parent, use, seen, path)
        return out

    def reasons(self, mid: str, use: str, size: float | None = None,
                _seen: frozenset = frozenset()) -> list[Reason]:
        """Every :class:`Reason` in the chain of ``mid`` for ``use``, layer by layer (:data:`LAYERS`): the
        model's own weights, its base models' chains (recursively), its training data (and what that data
        was translated from), and the terms of the APIs that generated the data."""
        if mid not in self.models:
            raise KeyError(f"unknown model {mid!r}; known: {', '.join(sorted(self.models))}")
        if mid in _seen:
            return []
        out = self._own(mid, use, size)
        for base, _, base_size in (b.partition("@") for b in self._per_size(mid, "base_model", size)):
            if base not in self.models:
                raise LicenseDataError(f"model {mid!r}, field 'base_model': {base!r} is not in the catalog")
            for r in self.reasons(base, use, float(base_size) if base_size else None, _seen | {mid}):
                layer_note = "" if r.layer == "own-weights" else f"(상속된 {LAYER_KO[r.layer]}) "
                subject = r.subject if r.subject.split(" ")[0] == base else f"{base} › {r.subject}"
                out.append(Reason("base-model", subject, r.license_id, r.effect, r.source, layer_note + r.note,
                                  (base, *r.path)))
        for did in split(self.models[mid].get("training_data")):
            out += self._dataset_reasons(did, use)
        return out

    def verdict(self, mid: str, use: str = "commercial", size: float | None = None) -> Verdict:
        """Verdict for ``mid``; for a family whose sizes differ in licence, ``size`` picks one
        (without it the verdict is the strictest over all sizes, i.e. what holds for every size)."""
        reasons = self.reasons(mid, use, size)
        allowed = strictest(r.effect for r in reasons)
        own = [r for r in reasons if r.layer == "own-weights"]
        label = ";".join(dict.fromkeys(r.license_id for r in own))
        label_effect = strictest(r.effect for r in own)
        mismatch = EFFECTS.index(label_effect) > EFFECTS.index(allowed)
        return Verdict(mid, use, allowed, reasons, label, label_effect, mismatch, size)

    def entries(self, uses: Iterable[str] = USES) -> list[tuple[str, str, float | None]]:
        """``(label, model, size)`` per answer: one per model, or, where a family's sizes get different
        verdicts for ``uses``, one per group of sizes (``'qwen2.5 (3B)'``; size = the group's first)."""
        out = []
        for mid, row in self.models.items():
            groups: dict[tuple, list[float]] = {}
            for s in [float(s) for s in split(row.get("sizes_b"))] or [None]:
                groups.setdefault(tuple(self.verdict(mid, u, s).allowed for u in uses), []).append(s)
            if len(groups) == 1:
                out.append((mid, mid, None))
            else:
                out += [(f"{mid} ({'/'.join(f'{s:g}' for s in g)}B)", mid, g[0]) for g in groups.values()]
        return out

    def chain_graph(self, mid: str, use: str = "commercial", size: float | None = None) -> nx.DiGraph:
        """A networkx DiGraph of the chain: model → base models → datasets → APIs. A node carries its ``kind``,
        the ``effects`` and ``licenses`` of the reasons ending at it and the ``effect`` they add (model: verdict)."""
        g = nx.DiGraph()
        v = self.verdict(mid, use, size)
        g.add_node(mid)
        for r in v.reasons:
            path = (mid, *r.path)
            nx.add_path(g, path)
            g.nodes[path[-1]].setdefault("effects", []).append(r.effect)
            g.nodes[path[-1]].setdefault("licenses", set()).add(r.license_id)
        for node, data in g.nodes(data=True):
            data["kind"] = "model" if node in self.models else "api" if node in self.licenses else "dataset"
            assessed = set(data.get("effects", [])) - {NOT_ASSESSED}
            data["effect"] = v.allowed if node == mid else strictest(assessed) if assessed else NOT_ASSESSED
        return g


# --------------------------------------------------------------------------- on the shared catalog, or a given resolver
def default_resolver() -> Resolver:
    """The resolver over ``helpers.catalog``'s models and datasets and ``data/licenses``, built on each call
    (cheap: both are cached until a file changes), so an edited catalog or licence file is followed."""
    return Resolver(catalog.models(), catalog.datasets())


def verdict(model: str, use: str = "commercial", size: float | None = None) -> Verdict:
    """What ``model`` (a catalog id) may be used for (``use`` in :data:`USES`), and why."""
    return default_resolver().verdict(model, use, size)


def _answers(uses: Iterable[str], res: Resolver):
    """``(row label, use, verdict)`` for every :meth:`Resolver.entries` row and use."""
    return [(label, u, res.verdict(mid, u, size)) for label, mid, size in res.entries(uses) for u in uses]


def matrix(uses: Iterable[str] = USES, resolver: Resolver | None = None) -> pd.DataFrame:
    """The verdict of every catalog model (rows; one per size group where sizes differ) for every use."""
    uses = list(uses)
    answers = pd.DataFrame(_answers(uses, resolver or default_resolver()), columns=["model", "use", "v"])
    table = answers.assign(v=answers["v"].map(lambda v: v.allowed)).pivot(index="model", columns="use", values="v")
    return table.loc[list(dict.fromkeys(answers["model"])), uses].rename_axis(columns=None)


def in_korean(mat: pd.DataFrame) -> pd.DataFrame:
    """A :func:`matrix` (or some of its rows) with Korean answers and use names."""
    return mat.replace(EFFECT_KO).rename(columns=USE_LABELS_KO)


def matrix_table(uses: Iterable[str] = USES, resolver: Resolver | None = None):
    """:func:`matrix` for people: Korean answers on cells coloured by effect, in large print (a pandas Styler)."""
    mat = matrix(uses, resolver)
    shown = in_korean(mat)
    css = [{"selector": f".v-{e}", "props": f"background-color: {c}"} for e, c in EFFECT_COLOURS.items()]
    css.append({"selector": "td, th", "props": "font-size: 1.15em; padding: 1px 12px"})
    return shown.style.set_td_classes(("v-" + mat).set_axis(shown.columns, axis=1)).set_table_styles(css)


def mismatches(uses: Iterable[str] = USES, resolver: Resolver | None = None) -> pd.DataFrame:
    """Every (model, use) whose card label says more than the chain allows, and what decided it."""
    rows = [{"model": label, "use": v.use, "label": v.label, "label_says": v.label_effect,
             "chain_says": v.allowed, "decided_by": v.decided_by()}
            for label, _, v in _answers(list(uses), resolver or default_resolver()) if v.label_mismatch]
    return pd.DataFrame(rows, columns=["model", "use", "label", "label_says", "chain_says", "decided_by"])


class DifferenceRow(BaseModel):
    """A row of ``data/licenses/differences.csv``: a model whose catalog answer deliberately differs."""

    model: Annotated[str, catalog._ids_of("models", "a model id of the catalog", lambda cell: [cell])]
    catalog: Literal[EFFECTS]
    chain: Literal[EFFECTS]
    why: catalog.Text
    source: catalog.Source


def differences(resolver: Resolver | None = None) -> pd.DataFrame:
    """Every model size whose catalog ``commercial_use`` differs from the chain's commercial verdict, with the
    reason recorded in ``data/licenses/differences.csv`` (``why`` empty: nobody explained the difference)."""
    res = resolver or default_resolver()
    known = {r["model"]: r for r in catalog._checked_rows(data_path("licenses", "differences.csv"), DifferenceRow,
                                                         {"models": set(res.models)}, unique=("model",))}
    rows = []
    for mid, row in res.models.items():
        sizes, said = split(row.get("sizes_b")), split(row.get("commercial_use"))
        for i, size in enumerate(sizes):
            chain, says = res.verdict(mid, "commercial", float(size)).allowed, said[i if len(said) > 1 else 0]
            note = known.get(mid, {})
            explained = (note.get("catalog"), note.get("chain")) == (says, chain)
            rows.append({"model": mid, "size_b": float(size), "catalog": says, "chain": chain,
                         "why": note["why"] if explained else "", "source": note["source"] if explained else ""})
    return pd.DataFrame(rows).query("catalog != chain").reset_index(drop=True)


def case_table(model_id: str, uses: Iterable[str] = USES, resolver: Resolver | None = None) -> pd.DataFrame:
    """One worked case: per use, the verdict, the card's label and what decided it."""
    rows = [{"use": v.use, "allowed": v.allowed, "label": v.label, "label_says": v.label_effect,
             "label_mismatch": v.label_mismatch, "decided_by": v.decided_by()}
            for v in ((resolver or default_resolver()).verdict(model_id, u) for u in uses)]
    return pd.DataFrame(rows).set_index("use")


def widget(resolver: Resolver | None = None):
    """"I want to use model X for purpose Y": the coloured answer (:meth:`Verdict.badge`), the chain as a
    picture (:func:`chain_figure`) and the Korean explanation (:meth:`Verdict.explain`), for the chosen pair."""
    import ipywidgets as widgets
    import matplotlib.pyplot as plt
    from IPython.display import HTML, display

    res = resolver or default_resolver()
    model = widgets.Dropdown(options=[(label, (mid, size)) for label, mid, size in sorted(res.entries())],
                             description="모델")
    use = widgets.Dropdown(options=[(f"{USE_LABELS_KO[u]} ({u})", u) for u in USES], description="용도")

    def answer(model, use):
        v = res.verdict(model[0], use, model[1])
        display(HTML(v.badge()))
        fig, _ = chain_figure(model[0], use, res, model[1])
        display(fig)
        plt.close(fig)
        print(v.explain())

    return widgets.VBox([widgets.HBox([model, use]), widgets.interactive_output(answer, {"model": model, "use": use})])


# --------------------------------------------------------------------------- figures (matplotlib)

EFFECT_COLOURS = {"no": "#f28b82", "conditional": "#fdd663", "yes": "#81c995", NOT_ASSESSED: "#dadce0"}


def chain_figure(model_id: str, use: str = "commercial", resolver: Resolver | None = None,
                 size: float | None = None):
    """Draw the licence chain of ``model_id`` (``size``: one size of it) for ``use``, each node coloured by the
    effect it adds, a Korean legend. Returns ``(figure, graph)`` (the :meth:`Resolver.chain_graph`)."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    plots.use_korean_font()
    g = (resolver or default_resolver()).chain_graph(model_id, use, size)
    nx.set_node_attributes(g, nx.single_source_shortest_path_length(g, model_id), "layer")
    pos = nx.multipartite_layout(g, subset_key="layer", align="horizontal", scale=2)
    pos = {n: (x, -y) for n, (x, y) in pos.items()}
    fig, ax = plt.subplots(figsize=(9, 4.5), dpi=80)
    nx.draw_networkx(g, pos, ax=ax, node_color=[EFFECT_COLOURS[g.nodes[n]["effect"]] for n in g], node_size=1400,
                     font_size=10, arrows=True, edge_color="#888888")
    ax.legend(handles=[Patch(color=c, label=EFFECT_KO[e]) for e, c in EFFECT_COLOURS.items()], loc="upper left",
              fontsize=11, frameon=False)
    label = f"{model_id} ({size:g}B)" if size is not None else model_id
    ax.set_title(f"{label} · {USE_LABELS_KO[use]} → {ko(g.nodes[model_id]['effect'])}", fontsize=13)
    ax.axis("off")
    fig.tight_layout()
    return fig, g
