"""Licence terms as data, and a resolver that says what a model may be used for, and why.

Not legal advice (법률 자문이 아님). The resolver makes one reading of licence texts visible and
checkable; it does not replace reading them or asking counsel.

``data/licenses/licenses.yaml`` holds, per licence id, the terms a reader needs (attribution, commercial
use, derivatives, share-alike, use-based restrictions, redistribution, research) and special conditions
(user thresholds, naming rules, acceptable-use policies), each with its clause number and a URL; the
pydantic class :class:`License` is its schema. ``verdict(model_id, use)`` walks a model's chain of terms
(:meth:`Resolver.reasons`): ``allowed`` is the most restrictive effect of the chain, no < conditional < yes.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal, NamedTuple

import networkx as nx
import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, StrictBool, with_config
from pydantic.functional_validators import BeforeValidator
from typing_extensions import TypedDict

from . import catalog, plots
from .catalog import split
from .env import data_path, read_yaml

USES = ("commercial", "research", "redistribute-weights", "finetune-release")
USE_LABELS_KO = {"commercial": "상업적 이용", "research": "연구", "redistribute-weights": "가중치 재배포",
                 "finetune-release": "미세조정 후 공개"}
EFFECTS = ("no", "conditional", "yes")  # ordered: most restrictive first
NOT_ASSESSED = "not-assessed"
EFFECT_RANK = {e: i for i, e in enumerate(EFFECTS)}
LAYERS = ("own-weights", "base-model", "training-data", "data-generator-api")

DISCLAIMER_KO = "법률 자문이 아님 (not legal advice): 라이선스 원문과 전문가 확인이 최종 기준입니다."


class LicenseDataError(ValueError):
    """Bad licence data: each line of the message names the file, line, licence id and field."""


# --------------------------------------------------------------------------- data: the schema of licenses.yaml
class Term(BaseModel):
    model_config = ConfigDict(frozen=True, coerce_numbers_to_str=True, str_strip_whitespace=True)

    value: str
    section: Annotated[str, Field(min_length=1)]  # every term cites its clause
    note: Annotated[str, BeforeValidator(lambda note: note or "")] = ""


class Permission(Term):
    value: Literal[EFFECTS]


class Obligation(Term):
    value: Literal["required", "partial", "not-required"]


class Restriction(Term):
    value: Literal["yes", "no"]


@with_config(ConfigDict(extra="forbid"))
class Terms(TypedDict):
    commercial: Permission
    derivatives: Permission
    redistribution: Permission
    research: Permission
    attribution: Obligation
    share_alike: Obligation
    use_restrictions: Restriction


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
        """``(effect, section, note)`` this licence gives ``use``, conditions appended to the note.

        ``finetune-release`` takes the stricter of ``derivatives`` and ``redistribution``.
        """
        _check_use(use)
        if use == "finetune-release":
            d, r = self.terms["derivatives"], self.terms["redistribution"]
            effect = strictest([d.value, r.value])
            section = d.section if d.section == r.section else f"{d.section} / {r.section}"
            note = "; ".join(x for x in (d.note, r.note) if x)
        else:
            t = self.terms[{"commercial": "commercial", "research": "research",
                            "redistribute-weights": "redistribution"}[use]]
            effect, section, note = t.value, t.section, t.note
        extra = [f"{c.note} (§{c.section})" for c in self.conditions if use in c.applies_to]
        if extra:
            note = "; ".join([note, *extra]) if note else "; ".join(extra)
        return effect, section, note


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
    """The survey's CC table (저작자 표시 / 상업적 이용 / 파생물 생산 / 동일조건 배포), from the data.

    O = yes / required, X = no / not required, △ = conditional / partial.
    """
    lic = licenses or load_licenses()
    rows = [{"license": lid, **{ko: _SYMBOL[lic[lid].terms[t].value] for t, ko in CC_COLUMNS.items()}}
            for lid in ids or lic]
    return pd.DataFrame(rows).set_index("license")


# --------------------------------------------------------------------------- verdicts
class Reason(NamedTuple):
    layer: str
    subject: str
    license_id: str
    effect: str
    source: str
    note: str


class Verdict(NamedTuple):
    model: str
    use: str
    allowed: str
    reasons: list[Reason]
    label: str
    label_effect: str
    label_mismatch: bool

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.reasons, columns=Reason._fields)

    def binding(self) -> list[Reason]:
        """The reasons whose effect equals the verdict (the ones that decided it)."""
        return [r for r in self.reasons if r.effect == self.allowed]

    def decided_by(self) -> str:
        """``layer:licence`` of the binding reasons, e.g. ``base-model:llama-1-research; training-data:...``."""
        return "; ".join(sorted({f"{r.layer}:{r.license_id}" for r in self.binding()}))

    def explain(self) -> str:
        lines = [f"{self.model} / {self.use} ({USE_LABELS_KO[self.use]}): {self.allowed}"]
        if self.label_mismatch:
            lines.append(f"  ! label mismatch: the card's licence {self.label!r} alone says "
                         f"{self.label_effect!r}, the chain says {self.allowed!r}")
        for r in self.reasons:
            mark = "*" if r.effect == self.allowed else "-"
            lines.append(f"  {mark} [{r.layer}] {r.subject} · {r.license_id} → {r.effect}: {r.note}")
            lines.append(f"      {r.source}")
        lines.append(DISCLAIMER_KO)
        return "\n".join(lines)


def _check_use(use: str) -> None:
    if use not in USES:
        raise ValueError(f"unknown use {use!r}; expected one of {USES}")


def strictest(effects: Iterable[str]) -> str:
    """Most restrictive of ``effects`` (``not-assessed`` ignored); ``yes`` for none."""
    ranked = [e for e in effects if e != NOT_ASSESSED]
    for e in ranked:
        if e not in EFFECT_RANK:
            raise ValueError(f"unknown effect {e!r}; expected {EFFECTS}")
    return min(ranked, key=EFFECT_RANK.__getitem__) if ranked else "yes"


def is_pretraining_corpus(dataset: dict) -> bool:
    """True for web-scale pre-training corpora: data only scraped (not generated, translated or written)."""
    how_made = str(dataset.get("how_made") or "").split(" + ")
    return how_made == ["scraped"] and not split(dataset.get("generated_by_api"))


def data_effect(terms: License, use: str) -> tuple[str, str]:
    """Effect a dataset licence has on a model trained on it, with the reasoning.

    Are weights an adaptation of their training data? The question is open; we take the conservative
    reading that the dataset's authors themselves state for Alpaca: non-commercial data makes commercial
    use of the model ``no``, share-alike data makes releasing weights ``conditional``, and data with no
    stated licence is ``conditional``.
    """
    _check_use(use)
    if terms.id == "unknown" and use != "research":
        return "conditional", ("no licence stated for the data: rights in it are unclear, so any use of a model "
                               "trained on it carries that uncertainty")
    commercial, csec, cnote = terms.effect("commercial")
    if use == "commercial":
        if commercial == "no":
            return "no", (f"non-commercial data (§{csec}); whether model weights are an adaptation of their "
                          "training data is unsettled, we follow the conservative reading that the data's own "
                          "authors state (e.g. Stanford for Alpaca)")
        return commercial, f"data licence allows commercial use: {cnote} (§{csec})"
    if use == "research" and terms.id == "unknown":
        return "yes", "no licence stated for the data; research use of a trained model is not where that bites"
    if use == "research":
        eff, sec, note = terms.effect("research")
        return eff, f"{note} (§{sec})" if note else f"§{sec}"
    sa = terms.terms["share_alike"]
    if sa.value == "required":
        return "conditional", (f"share-alike data (§{sa.section}): if weights count as Adapted Material, they "
                               "must be released under the same licence - legally unsettled")
    eff, sec, note = terms.effect(use)
    if eff == "no":
        return "conditional", f"the data licence grants no redistribution (§{sec}); effect on weights unsettled"
    return "yes", f"the data licence does not restrict releasing models trained on it (§{sec})"


class Resolver:
    """Resolve verdicts against catalog frames (``models``, ``datasets``) and licence data.

    The frames need the catalog's columns: ``id``, ``weights_license``, ``sizes_b``, ``base_model``,
    ``training_data`` for models; ``id``, ``license``, ``how_made``, ``generated_by_api``,
    ``translated_from`` (and optionally ``source``) for datasets. Empty licence cells read as ``unknown``.
    """

    def __init__(self, models: pd.DataFrame, datasets: pd.DataFrame, licenses: dict[str, License] | None = None):
        self.licenses = licenses or load_licenses()
        self.models = {str(row["id"]): row for row in models.to_dict("records")}
        self.datasets = {str(row["id"]): row for row in datasets.to_dict("records")}

    def license(self, lid: str, where: str) -> License:
        if lid not in self.licenses:
            raise LicenseDataError(f"{where}: licence id {lid!r} is not in data/licenses/licenses.yaml "
                                   f"(known: {', '.join(sorted(self.licenses))})")
        return self.licenses[lid]

    # ---- layers
    def _own(self, mid: str, row: dict, use: str, size: float | None = None) -> list[Reason]:
        """Own-weights reasons; a family whose sizes carry different licences gets one per licence."""
        lids = split(row.get("weights_license")) or ["unknown"]
        sizes = split(row.get("sizes_b"))
        groups: dict[str, list[str]] = {}
        if len(lids) > 1:
            if len(lids) != len(sizes):
                raise LicenseDataError(f"model {mid!r}: {len(lids)} weights licences for {len(sizes)} sizes; "
                                       "per-size licences must align with 'sizes_b'")
            for lid, sz in zip(lids, sizes):
                if size is None or float(sz) == float(size):
                    groups.setdefault(lid, []).append(sz)
            if not groups:
                raise ValueError(f"model {mid!r} has no size {size!r}; sizes: {sizes}")
        else:
            groups[lids[0]] = []
        out = []
        for lid, szs in groups.items():
            terms = self.license(lid, f"model {mid!r}, field 'weights_license'")
            eff, sec, note = terms.effect(use)
            subject = f"{mid} [{'/'.join(szs)}B]" if len(lids) > 1 else mid
            out.append(Reason("own-weights", subject, lid, eff, terms.url, f"§{sec}: {note}" if note else f"§{sec}"))
        return out

    def _dataset_reasons(self, did: str, use: str, seen: set, prefix: str = "") -> list[Reason]:
        subject = f"{prefix}{did}"
        if did not in self.datasets:
            raise LicenseDataError(f"training data {did!r} is not in the catalog's datasets")
        if did in seen:
            return []
        seen = seen | {did}
        ds = self.datasets[did]
        out = []
        for lid in split(ds.get("license")) or ["unknown"]:
            terms = self.license(lid, f"dataset {did!r}, field 'license'")
            if is_pretraining_corpus(ds):
                src = split(ds.get("source"))
                out.append(Reason("training-data", subject, lid, NOT_ASSESSED, terms.url,
                                  "web-scale pre-training corpus of mixed licences; publishers rely on copyright "
                                  "exceptions (fair use / TDM), not on the documents' licences - not assessed here"
                                  + (f"; data facts: {src[0]}" if src else "")))
            else:
                eff, note = data_effect(terms, use)
                out.append(Reason("training-data", subject, lid, eff, terms.url, note))
        for api in split(ds.get("generated_by_api")):
            api_terms = self.license(api, f"dataset {did!r}, field 'generated_by_api'")
            eff, sec, note = api_terms.effect(use)
            out.append(Reason("data-generator-api", f"{subject} ← {api}", api, eff, api_terms.url,
                              f"§{sec}: {note}; these terms bind whoever called the API (the dataset's "
                              "makers), not clearly later users of the data or model"))
        for parent in split(ds.get("translated_from")):
            out += self._dataset_reasons(parent, use, seen, prefix=f"{subject} ← ")
        return out

    def reasons(self, mid: str, use: str, size: float | None = None,
                _seen: frozenset = frozenset()) -> list[Reason]:
        """Every :class:`Reason` in the chain of ``mid`` for ``use``, layer by layer (:data:`LAYERS`): the
        model's own weights, its base models' chains (recursively), its training data (and what that data
        was translated from), and the terms of the APIs that generated the data."""
        _check_use(use)
        if mid not in self.models:
            raise KeyError(f"unknown model {mid!r}; known: {', '.join(sorted(self.models))}")
        if mid in _seen:
            return []
        row = self.models[mid]
        out = self._own(mid, row, use, size)
        for base in split(row.get("base_model")):
            if base not in self.models:
                raise LicenseDataError(f"model {mid!r}, field 'base_model': {base!r} is not in the catalog")
            for r in self.reasons(base, use, None, _seen | {mid}):
                layer_note = "" if r.layer == "own-weights" else f"(inherited {r.layer}) "
                subject = r.subject if r.subject.split(" ")[0] == base else f"{base} › {r.subject}"
                out.append(Reason("base-model", subject, r.license_id, r.effect, r.source, layer_note + r.note))
        seen: set = set()
        for did in split(row.get("training_data")):
            out += self._dataset_reasons(did, use, seen)
        return out

    def verdict(self, mid: str, use: str = "commercial", size: float | None = None) -> Verdict:
        """Verdict for ``mid``; for a family whose sizes differ in licence, ``size`` picks one
        (without it the verdict is the strictest over all sizes, i.e. what holds for every size)."""
        reasons = self.reasons(mid, use, size)
        allowed = strictest(r.effect for r in reasons)
        own = [r for r in reasons if r.layer == "own-weights"]
        label = ";".join(dict.fromkeys(r.license_id for r in own))
        label_effect = strictest(r.effect for r in own)
        mismatch = EFFECT_RANK[label_effect] > EFFECT_RANK[allowed]
        return Verdict(mid, use, allowed, reasons, label, label_effect, mismatch)

    def chain_graph(self, mid: str, use: str = "commercial") -> nx.DiGraph:
        """A networkx DiGraph of the chain: model → base models → datasets → APIs, nodes carry effects."""
        g = nx.DiGraph()
        v = self.verdict(mid, use)
        g.add_node(mid, kind="model", effect=v.allowed)
        for r in v.reasons:
            parts = [p.strip().split(" [")[0] for p in r.subject.replace("›", "←").split("←")]
            prev = mid
            for p in parts:
                if p == mid:
                    continue
                kind = "model" if p in self.models else ("api" if p in self.licenses else "dataset")
                g.add_node(p, kind=kind)
                g.add_edge(prev, p)
                prev = p
            effects = g.nodes[prev].setdefault("effects", [])
            effects.append(r.effect)
            assessed = [e for e in effects if e != NOT_ASSESSED]
            g.nodes[prev]["effect"] = strictest(assessed) if assessed else NOT_ASSESSED
            g.nodes[prev].setdefault("licenses", set()).add(r.license_id)
        g.nodes[mid]["effect"] = v.allowed
        return g


# --------------------------------------------------------------------------- on the shared catalog, or a given resolver
@lru_cache(maxsize=1)
def default_resolver() -> Resolver:
    """The resolver over ``helpers.catalog``'s models and datasets and ``data/licenses``."""
    return Resolver(catalog.models(), catalog.datasets())


def verdict(model: str, use: str = "commercial", size: float | None = None) -> Verdict:
    """What ``model`` (a catalog id) may be used for (``use`` in :data:`USES`), and why."""
    return default_resolver().verdict(model, use, size)


def matrix(uses: Iterable[str] = USES, resolver: Resolver | None = None) -> pd.DataFrame:
    """The verdict of every catalog model (rows) for every use (columns)."""
    res = resolver or default_resolver()
    return pd.DataFrame({u: [res.verdict(m, u).allowed for m in res.models] for u in uses},
                        index=pd.Index(list(res.models), name="model"))


def mismatches(uses: Iterable[str] = USES, resolver: Resolver | None = None) -> pd.DataFrame:
    """Every (model, use) whose card label says more than the chain allows, and what decided it."""
    res = resolver or default_resolver()
    rows = [{"model": v.model, "use": v.use, "label": v.label, "label_says": v.label_effect,
             "chain_says": v.allowed, "decided_by": v.decided_by()}
            for v in (res.verdict(m, u) for m in res.models for u in uses) if v.label_mismatch]
    return pd.DataFrame(rows, columns=["model", "use", "label", "label_says", "chain_says", "decided_by"])


def case_table(model_id: str, uses: Iterable[str] = USES, resolver: Resolver | None = None) -> pd.DataFrame:
    """One worked case: per use, the verdict, the card's label and what decided it."""
    rows = [{"use": v.use, "allowed": v.allowed, "label": v.label, "label_says": v.label_effect,
             "label_mismatch": v.label_mismatch, "decided_by": v.decided_by()}
            for v in ((resolver or default_resolver()).verdict(model_id, u) for u in uses)]
    return pd.DataFrame(rows).set_index("use")


def widget(resolver: Resolver | None = None):
    """"I want to use model X for purpose Y": a thin ipywidgets front-end over :meth:`Verdict.explain`."""
    import ipywidgets as widgets

    res = resolver or default_resolver()
    model = widgets.Dropdown(options=sorted(res.models), description="모델")
    use = widgets.Dropdown(options=[(f"{USE_LABELS_KO[u]} ({u})", u) for u in USES], description="용도")
    answer = widgets.interactive_output(lambda model, use: print(res.verdict(model, use).explain()),
                                        {"model": model, "use": use})
    return widgets.VBox([widgets.HBox([model, use]), answer])


# --------------------------------------------------------------------------- figures (matplotlib)

EFFECT_COLOURS = {"no": "#d9534f", "conditional": "#f0ad4e", "yes": "#5cb85c", NOT_ASSESSED: "#cccccc"}


def matrix_figure(uses: Iterable[str] = USES):
    """Heatmap of :func:`matrix` (models x uses), one letter per cell: N(o), C(onditional), Y(es)."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap

    plots.use_korean_font()
    mat = matrix(uses)
    codes = mat.replace({"no": 0, "conditional": 1, "yes": 2}).astype(int)
    fig, ax = plt.subplots(figsize=(5.5, 8), dpi=72)  # small PNG in the committed notebook
    ax.imshow(codes.values, cmap=ListedColormap([EFFECT_COLOURS[k] for k in ("no", "conditional", "yes")]),
              aspect="auto", vmin=0, vmax=2)
    ax.set_xticks(range(len(mat.columns)), mat.columns, rotation=30, ha="right")
    ax.set_yticks(range(len(mat.index)), mat.index, fontsize=8)
    for (i, j), effect in np.ndenumerate(mat.values):
        ax.text(j, i, effect[0].upper(), ha="center", va="center", fontsize=7)
    ax.set_title("사슬에서 가장 엄격한 효과 (N=불가, C=조건부, Y=가능)")
    fig.tight_layout()
    return fig


def chain_figure(model_id: str, use: str = "commercial", resolver: Resolver | None = None):
    """Draw the licence chain of ``model_id`` for ``use`` (the genealogy coloured by effect).

    Returns ``(figure, graph)``; the graph is :meth:`Resolver.chain_graph`'s."""
    import matplotlib.pyplot as plt

    plots.use_korean_font()
    g = (resolver or default_resolver()).chain_graph(model_id, use)
    for n, d in nx.single_source_shortest_path_length(g, model_id).items():
        g.nodes[n]["layer"] = d
    pos = nx.multipartite_layout(g, subset_key="layer", align="horizontal", scale=2)
    pos = {n: (x, -y) for n, (x, y) in pos.items()}
    fig, ax = plt.subplots(figsize=(7, 3.6), dpi=72)
    nx.draw_networkx(g, pos, ax=ax, node_color=[EFFECT_COLOURS[g.nodes[n]["effect"]] for n in g], node_size=900,
                     font_size=7, arrows=True, edge_color="#888888")
    ax.set_title(f"{model_id}: {use} → {g.nodes[model_id]['effect']} (빨강 불가, 노랑 조건부, 초록 가능)")
    ax.axis("off")
    fig.tight_layout()
    return fig, g
