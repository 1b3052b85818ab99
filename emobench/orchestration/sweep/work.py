"""What a sweep computes: extraction and training work items, and EMO-SUPERB's full table of them."""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from emobench.core.errors import UserError
from emobench.orchestration.sweep.corpus_hours import CorpusDuration, load_corpora
from emobench.orchestration.sweep.fields import canonical_upstream, fail, read_yaml
from emobench.upstream.waveform_invariance import PUBLISHED_NORMALISES

# EMO-SUPERB's 16 rows, in the order of the paper's Table 2 (canonical s3prl names).
EMO_SUPERB_UPSTREAMS = (
    "xls_r_1b", "wavlm_large", "hubert_large_ll60k", "wav2vec2_large_lv60_cv_swbd_fsh",
    "data2vec_large_ll60k", "decoar2", "wav2vec2_large_960", "apc_960hr", "vq_apc_960hr",
    "tera_960hr", "wav2vec_large", "mockingjay_960hr", "npc_960hr", "vq_wav2vec", "modified_cpc",
    "fbank")



@dataclass(frozen=True)
class ExtractionWork:
    """Running ``upstream`` over all of ``corpus``'s audio ``passes`` times (one per extraction
    spec). ``audio_hours`` None: the duration is unknown. ``capped``: whether the hours are cut
    at ``max_seconds`` per utterance (False: the uncapped total, an upper bound)."""

    upstream: str
    corpus: str
    audio_hours: float | None
    passes: int = 1
    capped: bool = True
    note: str = ""
    shared: tuple[str, ...] = ()  # why folds share one pass (:func:`extraction_spec`)
    per_fold: bool = False  # some fold is its own pass (the waveform standardised per fold)


@dataclass(frozen=True)
class TrainingWork:
    """``runs`` trainings (seeds) of the head on cached features of one condition and fold."""

    upstream: str
    condition: str
    runs: int
    train_utterances: int
    epochs: int
    dev_utterances: int = 0  # evaluated after every epoch
    test_utterances: int = 0  # evaluated once
    batch_size: int = 32
    fold: int | None = None



# --------------------------------------------------------------------------- passes

NORMALISES = "the upstream normalises every waveform itself, assuming the published checkpoint"
UNSTANDARDISED = "data.standardize=false"
CONDITION_SCOPE = "data.standardize_scope=condition"
OWN_CHECKPOINT = ("own checkpoint: whether it normalises every waveform is known only once "
                  "loaded, so one pass per fold is counted")


@dataclass(frozen=True)
class Standardization:
    """A condition's waveform standardisation: ``data.standardize`` and
    ``data.standardize_scope``."""

    standardize: bool = True
    scope: str = "fold"


def extraction_spec(upstream: str, setting: Standardization, fold: Any, partition: Any = None,
                    own_checkpoint: bool = False) -> tuple[tuple, str]:
    """What tells one extraction pass of a corpus from another (passes = distinct values) and
    why the folds share it ("" when each fold is its own pass), as the feature cache keys its
    entries (upstream/cache.py, docs/performance.md "fold sharing"). ``partition``: what tells
    the condition's utterances apart (conditions of one corpus with the same one share).

    >>> fold_std = Standardization()
    >>> [extraction_spec("fbank", fold_std, f)[0] for f in (1, 2)]
    [('fold', None, 1), ('fold', None, 2)]
    >>> extraction_spec("wavlm_large", fold_std, 2) == (("utterance",), NORMALISES)
    True
    >>> extraction_spec("fbank", Standardization(scope="condition"), 2)
    (('condition', None), 'data.standardize_scope=condition')
    >>> extraction_spec("wavlm_large", fold_std, 2, own_checkpoint=True)[0]
    ('fold', None, 2)
    """
    normalises = canonical_upstream(upstream) in PUBLISHED_NORMALISES and not own_checkpoint
    if normalises:  # keyed without any statistics (wherever data.standardize)
        key: tuple = ("utterance",)
    elif not setting.standardize:
        key = ("raw",)
    elif setting.scope == "condition":
        key = ("condition", partition)
    else:
        key = ("fold", partition, fold)
    reason = (UNSTANDARDISED if not setting.standardize else NORMALISES if normalises
              else CONDITION_SCOPE if setting.scope == "condition" else "")
    return key, reason


def pass_work(upstream: str, corpus: str | CorpusDuration, specs: set[tuple[tuple, str]],
              max_seconds: float | None = 10.0,
              corpora: Mapping[str, CorpusDuration] | None = None,
              own_checkpoint: bool = False) -> ExtractionWork:
    """:func:`extraction_work` with passes = the distinct specs (:func:`extraction_spec`) and
    the reasons for sharing them in ``shared`` and the note.

    >>> d = CorpusDuration("demo", 400, 0.25, "measured", 2.5)
    >>> specs = {extraction_spec("wavlm_large", Standardization(), f) for f in range(1, 6)}
    >>> w = pass_work("wavlm_large", d, specs)
    >>> w.passes, w.per_fold, w.note == f"measured; folds share one pass: {NORMALISES}"
    (1, False, True)
    """
    work = extraction_work(upstream, corpus, len({key for key, _ in specs}), max_seconds,
                           corpora)
    shared = tuple(sorted({reason for _, reason in specs if reason}))
    notes = [work.note, *(f"folds share one pass: {r}" for r in shared)]
    if own_checkpoint and canonical_upstream(upstream) in PUBLISHED_NORMALISES:
        notes.append(OWN_CHECKPOINT)
    return replace(work, note="; ".join(n for n in notes if n), shared=shared,
                   per_fold=any(not reason for _, reason in specs))


# --------------------------------------------------------------------------- full table


def extraction_work(upstream: str, corpus: str | CorpusDuration, passes: int = 1,
                    max_seconds: float | None = 10.0,
                    corpora: Mapping[str, CorpusDuration] | None = None) -> ExtractionWork:
    """The extraction of one corpus by one upstream, its hours from the corpora table (default:
    ``configs/sweeps/corpora.yaml``) or from a :class:`CorpusDuration` (e.g. measured by
    :func:`measure_audio`), cut at ``max_seconds`` where the durations allow it.

    >>> d = CorpusDuration("demo", 400, 0.25, "measured", 2.5)
    >>> w = extraction_work("apc", d, passes=5)
    >>> w.audio_hours, w.passes, w.capped, w.note
    (0.25, 5, True, 'measured')
    """
    if isinstance(corpus, CorpusDuration):
        duration, name = corpus, corpus.corpus
    else:
        name = corpus
        duration = (load_corpora() if corpora is None else corpora).get(corpus)
    if duration is None:
        return ExtractionWork(upstream, name, None, passes, False,
                              f"{name} is not in the corpora table")
    hours, capped = duration.hours_for(max_seconds)
    return ExtractionWork(upstream, name, hours, passes, capped, duration.source)


def _config_train(condition: Any) -> dict[str, Any]:
    data = read_yaml(condition.config_path) or {}
    train = data.get("train") or {}
    if not isinstance(train.get("epochs"), int):
        raise fail(condition.config, "train.epochs", "missing (needed for the cost estimate)")
    section = data.get("data") or {}
    return {"epochs": train["epochs"], "batch_size": int(train.get("batch_size", 32)),
            "max_seconds": section.get("max_seconds", 10.0),
            "standardization": Standardization(bool(section.get("standardize", True)),
                                               str(section.get("standardize_scope", "fold")))}


def full_emo_superb_work(upstreams: Sequence[str] | None = None,
                         conditions: Sequence[str] | None = None,
                         folds: str | Iterable[int] = "all", seeds: int = 1,
                         corpora: Mapping[str, CorpusDuration] | None = None,
                         standardization: Standardization | Mapping[str, Standardization]
                         | None = None, own_checkpoints: Collection[str] = (),
                         ) -> tuple[list[ExtractionWork], list[TrainingWork]]:
    """Work items of EMO-SUPERB's table: every upstream (default: the paper's 16 rows) on every
    condition (default: the nine, ``corpora/conditions.py``), each fold (``"all"``, fold
    numbers or ``"1,3"``; a condition keeps those it has) and seed.

    Training: one item per upstream, condition and fold with ``runs = seeds``, utterances from
    the partition file's ``expected_rows`` and epochs / batch size from the condition's config.

    Extraction: one item per upstream and corpus, ``passes`` = its distinct extraction specs
    (:func:`extraction_spec`). Under EMO-SUPERB's per-fold waveform standardisation each fold
    is its own spec over the whole corpus: passes = distinct folds; conditions of one corpus
    with identical partitions (same units per split and rows per fold, e.g. IMPROV (P) and (S))
    are assumed to hold the same audio and share their folds' passes. All folds share one pass
    where the upstream normalises every waveform itself (its published checkpoint; not for the
    upstreams in ``own_checkpoints``), without standardisation (one pass per corpus) and with
    ``data.standardize_scope=condition`` (one per distinct partition). ``standardization``:
    that of every condition, or per condition name; default (and for a condition missing from
    the mapping): the condition's config file. Seeds never add extraction.
    """
    from emobench.corpora import conditions as registry

    if isinstance(folds, str) and folds != "all":
        try:
            folds = [int(f) for f in folds.split(",") if f.strip()]
        except ValueError:
            raise UserError(f"folds must be 'all' or fold numbers like '1,3', not {folds!r}") \
                from None
    upstreams = list(upstreams) if upstreams is not None else list(EMO_SUPERB_UPSTREAMS)
    chosen = [registry.condition(c) for c in (conditions or registry.names())]
    corpora = load_corpora() if corpora is None else corpora
    trainings: list[TrainingWork] = []
    passes: dict[tuple[str, str], set[tuple[tuple, str]]] = {}  # (corpus, upstream) -> specs
    caps: dict[str, float | None] = {}
    for cond in chosen:
        settings = _config_train(cond)
        wanted = range(1, cond.folds + 1) if folds == "all" else sorted(
            {int(f) for f in folds} & set(range(1, cond.folds + 1)))
        spec = cond.spec()
        setting = (standardization if isinstance(standardization, Standardization)
                   else (standardization or {}).get(cond.name, settings["standardization"]))
        signature = json.dumps({"units": cond.fold_units(), "rows": spec.get("expected_rows")},
                               sort_keys=True, default=str)
        for fold in wanted:
            rows = cond.expected_rows(fold)
            if rows is None:
                raise UserError(f"partitions/{cond.corpus}.yaml {cond.partition_condition}: no "
                                f"expected_rows for fold {fold}, needed for the cost estimate")
            for upstream in upstreams:
                passes.setdefault((cond.corpus, upstream), set()).add(extraction_spec(
                    upstream, setting, fold, signature, upstream in own_checkpoints))
                trainings.append(TrainingWork(
                    upstream, cond.name, seeds, rows["train"], settings["epochs"], rows["dev"],
                    rows["test"], settings["batch_size"], fold))
        cap = settings["max_seconds"]
        if caps.setdefault(cond.corpus, cap) != cap:
            raise UserError(f"conditions of {cond.corpus} truncate at different data.max_seconds "
                            f"({caps[cond.corpus]} and {cap}): they cannot share extraction")
    extractions = [pass_work(upstream, corpus, specs, caps[corpus], corpora,
                             upstream in own_checkpoints)
                   for (corpus, upstream), specs in passes.items()]
    return extractions, trainings
