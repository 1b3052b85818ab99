"""CREMA-D recipe: EMO-SUPERB's label files from the crowd votes that CREMA-D publishes.

``<source>/processedResults/tabulatedVotes.csv`` has one row per clip and rating modality
(7,442 clips x 3): the first column is a row id whose first digit is the modality (1 voice-only,
2 face-only, 3 audio-visual), columns ``A D F H N S`` count the raters' votes (anger, disgust,
fear, happiness, neutral, sadness) and ``fileName`` names the clip
(``1001_DFA_ANG_XX``: actor, sentence, acted emotion, level). ``<source>/VideoDemographics.csv``
gives each actor's sex (``ActorID``, ``Sex``).

The label of a clip is the vote fraction per class of one modality, smoothed like EMO-SUPERB's
(``emobench.corpora.emotion_labels.smooth``), in EMO-SUPERB's class order (angry, sad, disgust, fear,
neutral, happy). ``modality="voice"`` (the default) uses the voice-only votes, those of raters
who only heard the clip, as EMO-SUPERB does; ``"audiovisual"`` and ``"face"`` use the others.

Writes ``<target>/Primary/config.json`` and ``labels_consensus_<fold>.csv`` (FileName
``<fileName>.wav``, the six classes, SpkrID = actor id, Gender, Split_Set) for the five speaker
folds of partitions/crema_d.yaml, after checking every fold's rows per split against the file's
``expected_rows``. The audio root is ``<source>/AudioWAV`` (``<source>`` when that folder does
not exist); the recipe reads no audio.

``compare_labels`` compares a written fold with EMO-SUPERB's released file for it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from emobench.corpora import partitions
from emobench.core import io
from emobench.core.errors import LabelFileError, UserError
from emobench.core.experiment import LOG
from emobench.corpora.emotion_labels import smooth

VOTES = {"A": "angry", "D": "disgust", "F": "fear", "H": "happy", "N": "neutral", "S": "sad"}
CLASSES = ["angry", "sad", "disgust", "fear", "neutral", "happy"]  # EMO-SUPERB's order
MODALITIES = {"voice": "1", "face": "2", "audiovisual": "3"}  # first digit of the row id
SPLIT_NAMES = {"train": "Train", "dev": "Development", "test": "Test"}
VOTE_TABLE = Path("processedResults") / "tabulatedVotes.csv"
DEMOGRAPHICS = Path("VideoDemographics.csv")
AUDIO_DIR = "AudioWAV"
AUDIO_EXT = ".wav"
FILE_NAME = re.compile(r"(?P<actor>[0-9]{4})_[A-Z]{3}_(ANG|DIS|FEA|HAP|NEU|SAD)_(LO|MD|HI|XX)")
ROW_ID = re.compile(r"[123][0-9]{5}")
TIE_TOLERANCE = 1e-6  # labels are rounded to 6 decimals: equal vote counts give equal values
LABEL_TOLERANCE = 1e-6


def _read_csv(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise UserError(f"{path}: file is missing (CREMA-D folder layout: "
                        f"{VOTE_TABLE.as_posix()}, {DEMOGRAPHICS.as_posix()})")
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: not a readable CSV ({exc})") from None


def read_demographics(path: Path) -> dict[str, str]:
    """{actor id: sex} from VideoDemographics.csv (columns ActorID, Sex)."""
    frame = _read_csv(path)
    missing = [c for c in ("ActorID", "Sex") if c not in frame.columns]
    if missing:
        raise LabelFileError(path, [f"columns {missing} are missing (columns: "
                                    f"{list(frame.columns)})"])
    problems = []
    line = frame.index.to_numpy() + 2
    actors, sexes = frame["ActorID"].str.strip(), frame["Sex"].str.strip()
    for i in np.flatnonzero(~actors.str.fullmatch(r"[0-9]{4}").to_numpy()):
        problems.append(f"line {line[i]}: ActorID {actors.iloc[i]!r} is not a 4-digit actor id")
    for i in np.flatnonzero((sexes == "").to_numpy()):
        problems.append(f"line {line[i]}: actor {actors.iloc[i]} has no Sex")
    for actor, rows in frame[actors.duplicated(keep=False)].groupby(actors).groups.items():
        problems.append(f"lines {', '.join(str(line[r]) for r in rows)}: actor {actor} "
                        "appears more than once")
    if problems:
        raise LabelFileError(path, problems)
    return dict(zip(actors, sexes))


def read_votes(path: Path, modality: str = "voice") -> pd.DataFrame:
    """The rows of one modality: fileName, actor and the vote counts A..S, sorted by fileName.

    Raises LabelFileError (file, CSV line, reason) for a wrong header, row ids that are not a
    modality digit and 5 digits, vote counts that are not integers >= 0, file names that are not
    CREMA-D's, clips listed twice for the modality and clips without votes.
    """
    if modality not in MODALITIES:
        raise UserError(f"CREMA-D recipe: modality must be one of {list(MODALITIES)}, "
                        f"got {modality!r}")
    frame = _read_csv(path)
    columns = list(frame.columns)
    required = [*VOTES, "fileName"]
    missing = [c for c in required if c not in columns]
    if missing or not columns or columns[0] in required:
        raise LabelFileError(path, [
            f"expected the row id as first column, then vote columns {list(VOTES)} and "
            f"fileName; missing {missing} (columns: {columns})"])
    line = frame.index.to_numpy() + 2  # CSV line numbers: header is line 1
    row_id = frame[columns[0]].str.strip()
    problems = [f"line {line[i]}: row id {row_id.iloc[i]!r} is not a modality digit (1 voice, "
                "2 face, 3 audio-visual) followed by 5 digits"
                for i in np.flatnonzero(~row_id.str.fullmatch(ROW_ID).to_numpy())]
    if problems:
        raise LabelFileError(path, problems)

    rows = frame[row_id.str[0] == MODALITIES[modality]]
    line = rows.index.to_numpy() + 2
    if rows.empty:
        raise LabelFileError(path, [f"no rows for modality {modality!r} (row ids "
                                    f"{MODALITIES[modality]}xxxxx)"])
    names = rows["fileName"].str.strip()
    for i in np.flatnonzero(~names.str.fullmatch(FILE_NAME).to_numpy()):
        problems.append(f"line {line[i]}: fileName {names.iloc[i]!r} is not a CREMA-D clip name "
                        "(actor_sentence_emotion_level, e.g. 1001_DFA_ANG_XX)")
    counts = rows[list(VOTES)].apply(pd.to_numeric, errors="coerce").to_numpy(np.float64)
    bad = np.isnan(counts).any(axis=1) | (counts < 0).any(axis=1) \
        | (np.nan_to_num(counts) != np.round(np.nan_to_num(counts))).any(axis=1)
    for i in np.flatnonzero(bad):
        problems.append(f"line {line[i]}: {names.iloc[i]}: vote counts must be integers >= 0: "
                        f"{rows.iloc[i][list(VOTES)].tolist()}")
    total = np.nan_to_num(counts).sum(axis=1)
    for i in np.flatnonzero(~bad & (total == 0)):
        problems.append(f"line {line[i]}: {names.iloc[i]}: no {modality} votes (all of "
                        f"{list(VOTES)} are 0)")
    if "numResponses" in columns:
        stated = pd.to_numeric(rows["numResponses"], errors="coerce").to_numpy()
        for i in np.flatnonzero(~bad & (stated != total)):
            problems.append(f"line {line[i]}: {names.iloc[i]}: votes sum to {total[i]:g} but "
                            f"numResponses is {rows['numResponses'].iloc[i]!r}")
    for name, dups in rows[names.duplicated(keep=False)].groupby(names).groups.items():
        lines = ", ".join(str(r + 2) for r in dups)  # frame has a RangeIndex
        problems.append(f"lines {lines}: clip {name} appears more than once for modality "
                        f"{modality!r}")
    if problems:
        raise LabelFileError(path, problems)
    table = pd.DataFrame({"fileName": names.to_numpy(), "actor": names.str[:4].to_numpy()})
    table = table.join(pd.DataFrame(counts.astype(np.int64), columns=list(VOTES)))
    return table.sort_values("fileName", kind="stable").reset_index(drop=True)


def soft_labels(votes: pd.DataFrame) -> np.ndarray:
    """(N, 6) smoothed vote fractions in CLASSES order from the vote-count columns A..S."""
    letter_of = {name: letter for letter, name in VOTES.items()}
    counts = votes[[letter_of[c] for c in CLASSES]].to_numpy(np.float64)
    return smooth(counts / counts.sum(axis=1, keepdims=True))


def majority(labels: np.ndarray) -> np.ndarray:
    """(N, C) booleans: the classes that share the largest value of each row (ties: several).

    >>> majority(np.array([[0.4, 0.4, 0.2], [0.1, 0.2, 0.7]])).tolist()
    [[True, True, False], [False, False, True]]
    """
    labels = np.asarray(labels, dtype=np.float64)
    return np.abs(labels - labels.max(axis=1, keepdims=True)) <= TIE_TOLERANCE


def prepare(source: Path, target: Path, modality: str = "voice") -> list[Path]:
    """Write ``<target>/Primary/`` label files from the CREMA-D folder ``source``."""
    source, target = Path(source), Path(target)
    if not source.is_dir():
        raise UserError(f"CREMA-D source {source} is not a folder (expected the corpus folder "
                        f"with {VOTE_TABLE.as_posix()} and {DEMOGRAPHICS.as_posix()})")
    votes = read_votes(source / VOTE_TABLE, modality)
    sex = read_demographics(source / DEMOGRAPHICS)
    unknown = sorted(set(votes["actor"]) - set(sex))
    if unknown:
        raise UserError(f"{source / VOTE_TABLE}: actors {unknown} are not in "
                        f"{source / DEMOGRAPHICS}")
    spec = partitions.load("crema_d")
    audio_dir = source / AUDIO_DIR if (source / AUDIO_DIR).is_dir() else source

    labels = soft_labels(votes)
    base = pd.DataFrame({"FileName": votes["fileName"] + AUDIO_EXT})
    base = base.join(pd.DataFrame(labels, columns=CLASSES))
    base["SpkrID"] = votes["actor"]
    base["Gender"] = votes["actor"].map(sex)

    files: dict[Path, str] = {}
    for condition, rule in spec["conditions"].items():
        folder = target / condition
        config = {"data_split_type": SPLIT_NAMES, "categorical": {"emo_type": CLASSES},
                  "dimensional": {"max_score": 1, "min_score": 0},
                  "description": f"CREMA-D {condition} - {len(CLASSES)} classes ({modality} "
                                 "votes of processedResults/tabulatedVotes.csv)",
                  "vote_modality": modality,
                  "audio_root": str(audio_dir.resolve())}
        files[folder / "config.json"] = json.dumps(config, indent=4) + "\n"
        where = (f"partitions/crema_d.yaml {condition} (from {source / VOTE_TABLE}, "
                 f"{modality} votes)")
        for fold, frame in partitions.fold_frames(base, rule, where, "actors",
                                                  SPLIT_NAMES).items():
            files[folder / f"labels_consensus_{fold}.csv"] = frame.to_csv(
                index=False, float_format="%.6g")

    written = [io.write_text(path, text) for path, text in files.items()]  # all checked first
    top = majority(labels)
    tie = top.sum(axis=1) > 1
    single = {c: int((top[~tie, k]).sum()) for k, c in enumerate(CLASSES)}
    present = sum((audio_dir / name).is_file() for name in base["FileName"])
    LOG.info("CREMA-D: %d clips of %d actors, %s votes; majority class %s, ties %d (%.1f%%); "
             "%d of %d clips have audio under %s", len(base), base["SpkrID"].nunique(), modality,
             single, int(tie.sum()), 100 * tie.mean(), present, len(base), audio_dir.resolve())
    for path in written:
        LOG.info("wrote %s", path)
    return written


def _read_fold(folder: Path, fold: int) -> pd.DataFrame:
    path = Path(folder) / f"labels_consensus_{fold}.csv"
    if not path.is_file():
        present = sorted(p.name for p in Path(folder).glob("labels_consensus_*.csv"))
        raise UserError(f"{path}: label file for fold {fold} is missing; present: {present}")
    try:
        frame = pd.read_csv(path, dtype={"FileName": str, "SpkrID": str, "Split_Set": str},
                            keep_default_na=False, na_values=[""])
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError,
            ValueError) as exc:
        raise UserError(f"{path}: not a readable CSV ({exc})") from None
    missing = [c for c in ("FileName", *CLASSES, "Split_Set") if c not in frame.columns]
    if missing:
        raise LabelFileError(path, [f"columns {missing} are missing (columns: "
                                    f"{list(frame.columns)})"])
    line = frame.index.to_numpy() + 2
    values = frame[CLASSES].apply(pd.to_numeric, errors="coerce")
    problems = [f"line {line[i]}: class values are not numbers: "
                f"{frame.iloc[i][CLASSES].tolist()}"
                for i in np.flatnonzero(values.isna().any(axis=1).to_numpy())]
    names = frame["FileName"]
    for name, rows in frame[names.duplicated(keep=False)].groupby("FileName").groups.items():
        problems.append(f"lines {', '.join(str(line[r]) for r in rows)}: duplicate FileName "
                        f"{name!r}")
    if problems:
        raise LabelFileError(path, problems)
    frame[CLASSES] = values
    return frame.set_index("FileName")


def compare_labels(ours: Path, theirs: Path, fold: int = 1) -> dict[str, Any]:
    """Compare ``labels_consensus_<fold>.csv`` of two condition folders, joined on FileName.

    Returns counts (``rows_ours``, ``rows_theirs``, ``matched``, ``only_ours``,
    ``only_theirs``), and over the matched rows: ``majority_agreement`` (share of rows whose
    majority classes agree; a row with a tie has several majority classes, and two rows agree
    when their sets of majority classes intersect), ``majority_disagree`` (rows that do not),
    ``ties_ours`` / ``ties_theirs`` (rows with a tie), ``mean_abs_diff`` (mean of |ours -
    theirs| over rows and classes), ``max_abs_diff``, ``label_differs`` (rows with a class value
    differing by more than 1e-6), ``split_agreement`` and ``split_differs`` (same / different
    Split_Set); shares are None without matched rows. ``files`` lists the FileNames behind each
    count (only_ours, only_theirs, majority_disagree, label_differs, split_differs), sorted.
    Class columns are read by name (CREMA-D's six); other columns are ignored.
    """
    a, b = _read_fold(Path(ours), fold), _read_fold(Path(theirs), fold)
    common = a.index.intersection(b.index).sort_values()
    only_a = sorted(a.index.difference(b.index))
    only_b = sorted(b.index.difference(a.index))
    ya = a.loc[common, CLASSES].to_numpy(np.float64)
    yb = b.loc[common, CLASSES].to_numpy(np.float64)
    ma, mb = majority(ya), majority(yb)
    agree = (ma & mb).any(axis=1)
    diff = np.abs(ya - yb)
    label_differs = diff.max(axis=1, initial=0.0) > LABEL_TOLERANCE
    same_split = (a.loc[common, "Split_Set"].astype(str).to_numpy()
                  == b.loc[common, "Split_Set"].astype(str).to_numpy())
    n = len(common)
    names = np.asarray(common, dtype=object)
    return {
        "fold": int(fold),
        "rows_ours": len(a), "rows_theirs": len(b),
        "matched": n, "only_ours": len(only_a), "only_theirs": len(only_b),
        "majority_agreement": float(agree.mean()) if n else None,
        "majority_disagree": int((~agree).sum()),
        "ties_ours": int((ma.sum(axis=1) > 1).sum()),
        "ties_theirs": int((mb.sum(axis=1) > 1).sum()),
        "mean_abs_diff": float(diff.mean()) if n else None,
        "max_abs_diff": float(diff.max()) if n else None,
        "label_differs": int(label_differs.sum()),
        "split_agreement": float(same_split.mean()) if n else None,
        "split_differs": int((~same_split).sum()),
        "files": {"only_ours": only_a, "only_theirs": only_b,
                  "majority_disagree": names[~agree].tolist(),
                  "label_differs": names[label_differs].tolist(),
                  "split_differs": names[~same_split].tolist()},
    }
