"""EMO-SUPERB's nine test conditions (the emotion task, ``-d emotion``) by name.

A condition is one label set of one corpus: its config file under ``configs/emotion/``, its
partition (``partitions/<corpus>.yaml``, condition ``Primary`` or ``Secondary`` as EMO-SUPERB
names its label folders), its class list, the paper's column name and its number of folds.
Nothing is read at import time: partition files are loaded when a check asks for them, so a
missing one (e.g. written later by another recipe) breaks only the checks of its conditions.

>>> names()[:3]
['improv_p', 'crema_d', 'podcast_p']
>>> condition("IMPROV (S)").name, condition("iemocap").partition
('improv_s', 'iemocap/Secondary')
>>> len(condition("nnime").classes)
11
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from emobench.corpora import partitions
from emobench.core.errors import UserError
from emobench.core.resources import data_dir
from emobench.core.registry import Registry

SPLITS = ("train", "dev", "test")
# count keys accepted by check_fold_counts: ours and EMO-SUPERB's Split_Set names
SPLIT_ALIASES = {"train": "train", "dev": "dev", "test": "test", "Train": "train",
                 "Development": "dev", "development": "dev", "Test": "test"}

PRIMARY_8 = ("angry", "sad", "disgust", "contempt", "fear", "neutral", "surprise", "happy")
SECONDARY_16 = ("angry", "frustrated", "annoyed", "disappointed", "sad", "disgust", "depressed",
                "contempt", "confused", "concerned", "fear", "neutral", "surprise", "amused",
                "excited", "happy")


@dataclass(frozen=True)
class Condition:
    name: str  # canonical name = config file stem
    paper_name: str  # the column header of the paper's Table 2
    corpus: str  # partitions/<corpus>.yaml; also data.corpus of the config
    partition_condition: str  # condition in that file; also data.condition (Primary/Secondary)
    label_folder: str  # EMO-SUPERB's data/<label_folder>/<partition_condition>
    classes: tuple[str, ...]  # config.json categorical.emo_type, in order
    folds: int
    unit: str  # what a partition unit is (session, speaker, official_split)

    @property
    def config(self) -> str:
        """The config file, relative to the configs folder's parent (the repository root)."""
        return f"configs/emotion/{self.name}.yaml"

    @property
    def config_path(self) -> Path:
        return data_dir("configs") / "emotion" / f"{self.name}.yaml"

    @property
    def partition(self) -> str:
        """``"<corpus>/<condition>"``, the way data.partition names a partition condition."""
        return f"{self.corpus}/{self.partition_condition}"

    @property
    def label_subdir(self) -> str:
        """The label folder inside EMO-SUPERB's ``data/``."""
        return f"{self.label_folder}/{self.partition_condition}"

    def spec(self) -> dict[str, Any]:
        """This condition of ``partitions/<corpus>.yaml`` (loaded now), with the file's
        corpus-level ``unit_regex`` and ``dyad_regex`` when it has them."""
        data = partitions.load(self.corpus) or {}
        conditions = data.get("conditions") or {}
        if self.partition_condition not in conditions:
            raise UserError(f"partitions/{self.corpus}.yaml has no condition "
                            f"{self.partition_condition!r} (has: {sorted(conditions)}), "
                            f"needed by the emotion condition {self.name!r}")
        spec = dict(conditions[self.partition_condition])
        for key in ("unit_regex", "dyad_regex"):
            if data.get(key) and key not in spec:
                spec[key] = data[key]
        return spec

    def fold_units(self) -> dict[int, dict[str, list[str]]]:
        return partitions.fold_units(self.spec())

    def expected_rows(self, fold: int) -> dict[str, int] | None:
        table = self.spec().get("expected_rows") or {}
        rows = table.get(int(fold), table.get(str(fold)))
        return {s: int(rows[s]) for s in SPLITS} if rows else None

    def command(self, upstream: str = "<upstream>", emo_superb: str = "<EMO-SUPERB>",
                audio_root: str = "<licensed corpus audio>", fold: int | str = "<k>") -> str:
        """The training command of one fold (single-fold conditions need no data.fold)."""
        overrides = (f"data.label_dir={emo_superb}/data/{self.label_subdir},,"
                     f"data.audio_root={audio_root}")
        name = f"{upstream}_{self.name}"
        if self.folds > 1:
            overrides += f",,data.fold={fold}"
            name += f"_fold{fold}"
        return (f"python run_downstream.py -m train -u {upstream} -d emotion -c {self.config} "
                f"-n {name} -o \"{overrides}\"")


CONDITIONS = Registry("emotion condition")


def _add(condition: Condition, aliases: tuple[str, ...] = ()) -> None:
    CONDITIONS.register(condition.name, condition, aliases=aliases,
                        paper_name=condition.paper_name)


# Registered in the column order of the paper's Table 2 (EMO-SUPERB, Wu et al. 2024).
_add(Condition("improv_p", "IMPROV (P)", "msp_improv", "Primary", "IMPROV",
               ("angry", "sad", "neutral", "happy"), 6, "session"),
     ("IMPROV (P)", "IMPROV P"))
_add(Condition("crema_d", "CREMA-D", "crema_d", "Primary", "CREMA-D",
               ("angry", "sad", "disgust", "fear", "neutral", "happy"), 5, "speaker"),
     ("CREMA-D",))
_add(Condition("podcast_p", "POD (P)", "msp_podcast", "Primary", "PODCAST", PRIMARY_8, 1,
               "official_split"),
     ("POD (P)", "POD P", "PODCAST P"))
_add(Condition("biic_podcast_p", "B-POD (P)", "biic_podcast", "Primary", "BIIC_PODCAST",
               PRIMARY_8, 1, "official_split"),
     ("B-POD (P)", "B-POD P", "BIIC-PODCAST P"))
_add(Condition("iemocap", "IEMOCAP", "iemocap", "Secondary", "IEMOCAP",
               ("frustrated", "angry", "sad", "disgust", "excited", "fear", "neutral",
                "surprise", "happy"), 5, "session"),
     ("IEMOCAP",))
_add(Condition("nnime", "NNIME", "nnime", "Secondary", "NNIME",
               ("angry", "frustrated", "disappointed", "sad", "fear", "neutral", "surprise",
                "excited", "happy", "relax", "joy"), 5, "speaker"),
     ("NNIME",))
_add(Condition("improv_s", "IMPROV (S)", "msp_improv", "Secondary", "IMPROV",
               ("depressed", "frustrated", "angry", "sad", "disgust", "excited", "fear",
                "neutral", "surprise", "happy"), 6, "session"),
     ("IMPROV (S)", "IMPROV S"))
_add(Condition("podcast_s", "POD (S)", "msp_podcast", "Secondary", "PODCAST", SECONDARY_16, 1,
               "official_split"),
     ("POD (S)", "POD S", "PODCAST S"))
_add(Condition("biic_podcast_s", "B-POD (S)", "biic_podcast", "Secondary", "BIIC_PODCAST",
               SECONDARY_16, 1, "official_split"),
     ("B-POD (S)", "B-POD S", "BIIC-PODCAST S"))


def names() -> list[str]:
    """Canonical names in the paper's Table 2 column order."""
    return CONDITIONS.names()


def condition(name: str) -> Condition:
    """A condition by canonical name or alias (the paper's column name, e.g. ``"IMPROV (P)"``)."""
    return CONDITIONS.get(name)


def all_conditions() -> list[Condition]:
    return [condition(n) for n in names()]


def check_fold_counts(name: str, fold: int | str, counts: Mapping[str, int]) -> list[str]:
    """Problems (readable sentences; empty when none) of the rows per split of one fold against
    the partition file's ``expected_rows``. ``counts`` keys: train/dev/test or EMO-SUPERB's
    Split_Set names (Train/Development/Test)."""
    cond = condition(name)
    where = f"{cond.paper_name} ({cond.name}) fold {fold}"
    try:
        fold_number = int(fold)
    except (TypeError, ValueError):
        return [f"{where}: not a fold number (folds 1-{cond.folds})"]
    if not 1 <= fold_number <= cond.folds:
        return [f"{where}: no such fold ({cond.name} has "
                + (f"folds 1-{cond.folds})" if cond.folds > 1 else "one fold, 1)")]
    expected = cond.expected_rows(fold_number)
    source = f"partitions/{cond.corpus}.yaml {cond.partition_condition}"
    if expected is None:
        return [f"{where}: {source} gives no expected rows for this fold"]

    problems, got = [], {}
    for key, value in counts.items():
        split = SPLIT_ALIASES.get(key)
        if split is None:
            problems.append(f"{where}: unknown split {key!r} with {value} rows "
                            f"(expected train, dev and test)")
        elif split in got:
            problems.append(f"{where}: split {split} given twice")
        else:
            got[split] = int(value)
    for split in SPLITS:
        want = expected[split]
        if split not in got:
            problems.append(f"{where}: no row count for {split} ({source} expects {want:,})")
        elif got[split] != want:
            diff = got[split] - want
            problems.append(f"{where}: {split} has {got[split]:,} rows, {source} expects "
                            f"{want:,} ({abs(diff):,} {'more' if diff > 0 else 'fewer'})")
    if set(got) == set(SPLITS) and sum(got.values()) != sum(expected.values()):
        problems.append(f"{where}: {sum(got.values()):,} rows in all, {source} expects "
                        f"{sum(expected.values()):,}")
    return problems


def label_counts(label_dir: str | Path, fold: int | str) -> dict[str, int]:
    """Rows per split (train/dev/test) of ``labels_consensus_<fold>.csv`` in an EMO-SUPERB label
    folder, by the split names of its config.json."""
    label_dir = Path(label_dir)
    config_path, table = label_dir / "config.json", label_dir / f"labels_consensus_{fold}.csv"
    for path in (config_path, table):
        if not path.is_file():
            raise UserError(f"{path} does not exist")
    names_of = json.loads(config_path.read_text(encoding="utf-8")).get("data_split_type") or {}
    split_of = {str(v): k for k, v in names_of.items()} or {
        "Train": "train", "Development": "dev", "Test": "test"}
    counts: dict[str, int] = {}
    with open(table, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            value = row.get("Split_Set")
            key = split_of.get(value, value if value is not None else "<no Split_Set>")
            counts[key] = counts.get(key, 0) + 1
    return counts


def check_label_folder(name: str, label_dir: str | Path,
                       folds: list[int] | None = None) -> list[str]:
    """``check_fold_counts`` on every fold file of a label folder (all folds by default)."""
    cond = condition(name)
    problems = []
    for fold in folds or range(1, cond.folds + 1):
        try:
            counts = label_counts(label_dir, fold)
        except UserError as exc:
            problems.append(f"{cond.paper_name} ({cond.name}) fold {fold}: {exc}")
            continue
        problems += check_fold_counts(name, fold, counts)
    return problems
