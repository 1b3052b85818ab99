"""One relabelling end to end: read, ask (or ingest), validate, merge, report.

Writes into ``output_dir`` (default ``<label_dir>_relabelled``, so that its folder name, the
run's ``data.condition``, differs from the original's):

- ``config.json`` and ``labels_consensus_<k>.csv``: the relabelled label folder (:mod:`.merge`)
- ``relabel_output.csv`` (model runs): the accepted answers in EMO-SUPERB's released output
  format (id, classes, reason; not smoothed), which ``source: ingest`` reads back
- ``relabel_report.json``: counts of every repair, re-ask and fallback with the ids, requests,
  cache hits and token usage, the prompt's sha256, and the diff report of every fold
- ``relabel_examples.png``: the Fig. 5-like figure (:mod:`.figure`)
"""

from __future__ import annotations

import csv
import hashlib
import io as _io
from pathlib import Path
from typing import Any

from emobench.core import io
from emobench.core.config import ConfigError
from emobench.core.resources import data_dir
from emobench.corpora.emotion_labels import SPLITS, read_corpus_config
from emobench.corpora.relabel import engine, figure
from emobench.corpora.relabel.cache import ResponseCache
from emobench.corpora.relabel.client import ChatClient, endpoint
from emobench.corpora.relabel.config import DEFAULT_PROMPT, RelabelConfig
from emobench.corpora.relabel.inputs import read_annotations, read_output
from emobench.corpora.relabel.merge import merge_folder
from emobench.corpora.relabel.prompt import load_prompt


def check(config: RelabelConfig) -> None:
    problems = []
    if not config.annotations:
        problems.append("annotations (the raw annotations CSV: id, classes..., words) is not set")
    if not config.label_dir:
        problems.append("label_dir (the EMO-SUPERB label folder to relabel) is not set")
    if config.source == "ingest" and not config.ingest_csv:
        problems.append("source is ingest but ingest_csv (the output CSV to ingest) is not set")
    if config.batch_size < 1 or config.max_reasks < 0:
        problems.append("batch_size must be >= 1 and max_reasks >= 0")
    if not 0 <= config.sum_tolerance < 1:
        problems.append(f"sum_tolerance must lie in [0, 1): {config.sum_tolerance}")
    if not config.splits or not set(config.splits) <= set(SPLITS):
        problems.append(f"splits must be a non-empty list of {list(SPLITS)}: {config.splits}")
    if problems:
        raise ConfigError("relabel config: " + "; ".join(problems))


def output_csv(outcome: engine.Outcome, order: list[str]) -> str:
    """The accepted answers in the released output layout (first header cell empty), in the
    annotations' order."""
    buffer = _io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["", *outcome.classes, "reason"])
    for uid in (u for u in order if u in outcome.adjusted):
        writer.writerow([uid, *(f"{v:.6g}" for v in outcome.adjusted[uid]),
                         outcome.reasons.get(uid, "")])
    return buffer.getvalue()


def run(config: RelabelConfig, client: ChatClient | None = None) -> dict[str, Any]:
    check(config)
    label_dir = Path(config.label_dir)
    corpus = read_corpus_config(label_dir)
    annotations = read_annotations(config.annotations, corpus.classes)
    output_dir = Path(config.output_dir or f"{label_dir.resolve()}_relabelled")
    provenance: dict[str, Any] = {"source": config.source, "annotations": config.annotations,
                                  "label_dir": str(label_dir), "output_dir": str(output_dir)}
    if config.source == "llm":
        prompt = load_prompt(config.prompt or data_dir("configs") / DEFAULT_PROMPT)
        client = client or ChatClient(config.client, endpoint(config.client))
        outcome = engine.relabel(annotations, prompt, client, ResponseCache(config.cache_dir),
                                 batch_size=config.batch_size, max_reasks=config.max_reasks,
                                 tolerance=config.sum_tolerance)
        provenance.update(prompt=str(prompt.path), prompt_sha256=hashlib.sha256(
            prompt.template.encode("utf-8")).hexdigest(), endpoint=client.target.url)
    else:
        outcome = engine.ingest(annotations, read_output(config.ingest_csv, annotations),
                                config.sum_tolerance)
    reference = dict(zip(annotations.ids, annotations.values))
    folds = merge_folder(label_dir, output_dir, outcome.adjusted, config.splits,
                         config.smoothing, outcome.tally, reference, config.reference_tolerance)
    written = [str(output_dir / name) for name in sorted(p.name for p in
                                                         output_dir.glob("labels_*.csv"))]
    if config.source == "llm":
        written.append(str(io.write_text(output_dir / "relabel_output.csv", output_csv(outcome, annotations.ids))))
    picked = figure.pick(reference, outcome.adjusted, annotations.ids, config.figure_examples)
    if picked:
        words = dict(zip(annotations.ids, annotations.text))
        written.append(str(figure.examples(picked, annotations.classes, reference,
                                           outcome.adjusted, words,
                                           output_dir / "relabel_examples.png")))
    report = {**provenance, "smoothing": config.smoothing, "splits": config.splits,
              "batch_size": config.batch_size, "max_reasks": config.max_reasks,
              "sum_tolerance": config.sum_tolerance, "utterances": len(annotations.ids),
              **outcome.summary(), "folds": folds, "figure_examples": picked}
    written.append(str(io.write_json(output_dir / "relabel_report.json", report)))
    report["written"] = written
    return report
