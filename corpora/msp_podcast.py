"""MSP-Podcast recipe, as the Interspeech 2025 SER challenge (IS25) releases the corpus: checks the
release and writes one table for the multitask task (``-d multitask``, configs/is25/*.yaml).

The release (``<source>``)::

    Labels/labels_consensus.csv   FileName, EmoClass, EmoAct, EmoVal, EmoDom, SpkrID, Gender,
                                  Split_Set (``labels_consensus.csv`` at the top is accepted too)
    Audios/<FileName>             16 kHz audio, one file per row
    Transcripts/<stem>.txt        one UTF-8 transcript per utterance

``EmoClass`` is the consensus primary emotion: A (angry), S (sad), H (happy), U (surprise),
F (fear), D (disgust), C (contempt), N (neutral) -- the eight classes of the categorical task
(:data:`CLASSES`) -- or O (other) and X (no agreement among the annotators), which carry
attribute scores but no primary class (:data:`AMBIGUOUS`). ``EmoAct``, ``EmoVal``, ``EmoDom`` are
arousal, valence and dominance on 1-7. ``Split_Set`` is ``Train``, ``Development``, ``Test1``,
``Test2`` (labelled test sets) or ``Test3``: the challenge's test set, whose labels are not
released; the release lists its audio (``MSP-PODCAST_test3_<n>.wav``) without a CSV row, so with
``test=Test3`` the Test3 rows of the CSV, or else the files of ``Audios/`` named ``*test3*``
that the CSV does not list, form the test split, with no labels (predicted, not scored).

Every row is checked (every problem is reported at once with the file and its CSV line): the
columns, a FileName that is a plain ``.wav`` file name and not duplicated, a known Split_Set,
labelled rows with a known EmoClass, attributes that are numbers in [1, 7], a Gender of
Female / Male / Unknown and a SpkrID; the audio of every kept row; its transcript (missing ones
are an error unless ``require_transcripts=false``; not UTF-8 is always an error).

Writes ``<target>/is25_<test>.csv`` (the columns above; Split_Set ``Train``, ``Development`` and
``Test`` for the chosen test set; rows of the other test sets are left out) and
``is25_<test>.json`` (what was kept, left out and changed, with counts). Two changes make the
table fit the multitask task, both counted there: ``SpkrID`` ``Unknown`` becomes
``Unknown_<stem>`` (one pseudo-speaker per utterance: an unknown speaker cannot be checked for
speaker independence, and one shared "Unknown" would look like a speaker in every split), and
``Gender`` ``Unknown`` becomes empty (no label for the gender head).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd

from emobench.core import io
from emobench.core.errors import LabelFileError, UserError
from emobench.core.experiment import LOG
from emobench.corpora.target_table import missing_columns

CLASSES = ("A", "S", "H", "U", "F", "D", "C", "N")  # the categorical task's eight
CLASS_NAMES = ("Angry", "Sad", "Happy", "Surprise", "Fear", "Disgust", "Contempt", "Neutral")
AMBIGUOUS = ("O", "X")  # other, no agreement: attribute scores, no primary class
COLUMNS = ("FileName", "EmoClass", "EmoAct", "EmoVal", "EmoDom", "SpkrID", "Gender", "Split_Set")
ATTRIBUTES = ("EmoAct", "EmoVal", "EmoDom")
SPLITS = ("Train", "Development", "Test1", "Test2", "Test3")
CHALLENGE_TEST = "Test3"
TESTS = ("Test1", "Test2", "Test3", "none")
GENDERS = ("Female", "Male", "Unknown")
AUDIO_DIR, TRANSCRIPT_DIR, LABELS = "Audios", "Transcripts", "labels_consensus.csv"
_FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*\.wav", re.IGNORECASE)


def labels_path(source: Path) -> Path:
    for path in (source / "Labels" / LABELS, source / LABELS):
        if path.is_file():
            return path
    raise UserError(f"{source}: no Labels/{LABELS} (nor {LABELS}): not an MSP-Podcast release")


def _canonical(cells: pd.Series, allowed: tuple[str, ...]) -> pd.Series:
    """Cells matched to ``allowed`` in any case; NaN where they are not."""
    return cells.str.lower().map({a.lower(): a for a in allowed})


def read_consensus(path: Path) -> pd.DataFrame:
    """labels_consensus.csv checked (module docstring); canonical Split_Set, EmoClass, Gender;
    a ``line`` column (the CSV line, header = 1)."""
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise LabelFileError(path, [f"not a readable CSV ({str(exc).strip()})"]) from None
    frame.columns = [str(c).strip() for c in frame.columns]
    problems = missing_columns(list(frame.columns), COLUMNS)
    if problems:
        raise LabelFileError(path, problems)
    frame = frame[list(COLUMNS)].apply(lambda c: c.str.strip())
    frame["line"] = np.arange(len(frame)) + 2

    def each(bad: pd.Series, message) -> None:
        for _, row in frame[bad].iterrows():
            problems.append(f"line {row['line']}: {message(row)}")

    names = frame["FileName"]
    each(~names.str.fullmatch(_FILE_NAME), lambda r: f"FileName {r['FileName']!r} is not a "
         "plain .wav file name (letters, digits, '_', '.', '-'; no folders)")
    for name, rows in frame[names.duplicated(keep=False)].groupby("FileName"):
        problems.append(f"lines {', '.join(map(str, rows['line']))}: duplicate FileName {name!r}")
    split = _canonical(frame["Split_Set"], SPLITS)
    each(split.isna(), lambda r: f"unknown Split_Set {r['Split_Set']!r} "
         f"(expected one of {', '.join(SPLITS)})")
    labelled = split.notna() & (split != CHALLENGE_TEST)
    emo = _canonical(frame["EmoClass"], CLASSES + AMBIGUOUS)
    has_class = frame["EmoClass"] != ""
    each((labelled | has_class) & emo.isna(), lambda r: f"EmoClass {r['EmoClass']!r} is not "
         f"one of {', '.join(CLASSES + AMBIGUOUS)} ({r['Split_Set']} row)")
    for col in ATTRIBUTES:
        value = pd.to_numeric(frame[col], errors="coerce")
        each((labelled | (frame[col] != "")) & ~value.between(1.0, 7.0),
             lambda r, col=col: f"{col} must be a number in [1, 7], got {r[col]!r}")
    gender = _canonical(frame["Gender"], GENDERS)
    each((labelled | (frame["Gender"] != "")) & gender.isna(), lambda r: f"Gender "
         f"{r['Gender']!r} is not one of {', '.join(GENDERS)}")
    each(labelled & (frame["SpkrID"] == ""), lambda r: "empty SpkrID")
    if problems:
        raise LabelFileError(path, problems)
    return frame.assign(Split_Set=split, EmoClass=emo.fillna(""), Gender=gender.fillna(""))


def _challenge_rows(frame: pd.DataFrame, audio: Path, listed: set[str]) -> pd.DataFrame:
    """Test3: its CSV rows, else the unlisted ``*test3*`` files of Audios/ (no labels)."""
    rows = frame[frame["Split_Set"] == CHALLENGE_TEST]
    if len(rows):
        return rows
    names = sorted(p.name for p in audio.iterdir() if p.suffix.lower() == ".wav"
                   and "test3" in p.name.lower() and p.name not in listed)
    if not names:
        raise UserError(f"{audio}: test=Test3, but neither the CSV nor {AUDIO_DIR}/ has Test3 "
                        "files (MSP-PODCAST_test3_*.wav)")
    empty = {c: "" for c in COLUMNS if c not in ("FileName", "Split_Set", "SpkrID")}
    return pd.DataFrame({"FileName": names, "Split_Set": CHALLENGE_TEST, "SpkrID": "Unknown",
                         **empty, "line": 0})


def _check_files(kept: pd.DataFrame, source: Path, where: Path, require_transcripts: bool
                 ) -> dict[str, int]:
    """Every kept row's audio and transcript; the counts of transcripts missing or empty."""
    problems, missing, empty = [], 0, 0
    audio = {p.name for p in (source / AUDIO_DIR).iterdir()}
    for name, line in zip(kept["FileName"], kept["line"]):
        at = f"line {line}: " if line else ""
        if name not in audio:
            problems.append(f"{at}{AUDIO_DIR}/{name} does not exist")
        text = source / TRANSCRIPT_DIR / f"{Path(name).stem}.txt"
        try:
            empty += not text.read_bytes().decode("utf-8").strip()
        except FileNotFoundError:
            missing += 1
            if require_transcripts:
                problems.append(f"{at}{TRANSCRIPT_DIR}/{text.name} does not exist "
                                "(require_transcripts=false accepts it)")
        except UnicodeDecodeError as exc:
            problems.append(f"{at}{TRANSCRIPT_DIR}/{text.name} is not UTF-8 ({exc.reason} at "
                            f"byte {exc.start})")
    if problems:
        raise LabelFileError(where, problems)
    return {"transcripts_missing": missing, "transcripts_empty": empty}


def prepare(source: Path, target: Path, test: str = CHALLENGE_TEST,
            require_transcripts: bool = True) -> list[Path]:
    """Check the release under ``source``; write ``is25_<test>.csv`` and its record under
    ``target`` (module docstring). ``test``: Test1, Test2 (labelled), Test3 (the challenge's
    test set, unlabelled) or none (no test split)."""
    if test not in TESTS:
        raise UserError(f"test={test!r}: one of {', '.join(TESTS)}")
    for folder in (AUDIO_DIR, TRANSCRIPT_DIR):
        if not (source / folder).is_dir():
            raise UserError(f"{source}: no {folder}/ folder (the MSP-Podcast release layout: "
                            f"Labels/{LABELS}, {AUDIO_DIR}/, {TRANSCRIPT_DIR}/)")
    path = labels_path(source)
    frame = read_consensus(path)
    parts = [frame[frame["Split_Set"].isin(("Train", "Development"))]]
    if test == CHALLENGE_TEST:
        parts.append(_challenge_rows(frame, source / AUDIO_DIR, set(frame["FileName"])))
    elif test != "none":
        parts.append(frame[frame["Split_Set"] == test])
    kept = pd.concat(parts, ignore_index=True)
    if not (kept["Split_Set"] == "Train").any() or not (kept["Split_Set"] == "Development").any():
        raise LabelFileError(path, ["needs Train and Development rows"])
    if test not in ("none", CHALLENGE_TEST) and not (kept["Split_Set"] == test).any():
        raise LabelFileError(path, [f"test={test}: no {test} rows"])
    files = _check_files(kept, source, path, require_transcripts)

    unknown_speaker = kept["SpkrID"].str.lower() == "unknown"
    unknown_gender = kept["Gender"] == "Unknown"
    table = kept.assign(
        SpkrID=kept["SpkrID"].where(~unknown_speaker,
                                    "Unknown_" + kept["FileName"].map(lambda n: Path(n).stem)),
        Gender=kept["Gender"].where(~unknown_gender, ""),
        Split_Set=kept["Split_Set"].where(kept["Split_Set"] != test, "Test"))
    table = table.sort_values("FileName", kind="stable")[list(COLUMNS)]

    def counts(rows: pd.DataFrame) -> dict[str, dict[str, int]]:
        return {s: {c or "(none)": int(n) for c, n in g["EmoClass"].value_counts().sort_index()
                    .items()} for s, g in rows.groupby("Split_Set")}

    name = f"is25_{test.lower()}"
    record = {
        "recipe": "msp_podcast", "source": str(source), "labels": str(path),
        "audio_root": str(source / AUDIO_DIR), "transcript_dir": str(source / TRANSCRIPT_DIR),
        "test": test, "split_names": {"Train": "Train", "Development": "Development",
                                      **({test: "Test"} if test != "none" else {})},
        "rows": {s: int(n) for s, n in table["Split_Set"].value_counts().sort_index().items()},
        "classes_per_source_split": counts(kept),
        "left_out_rows": {s: int(n) for s, n in frame["Split_Set"].value_counts().items()
                          if s not in ("Train", "Development", test)},
        "challenge_test_from": (None if test != CHALLENGE_TEST else
                                "csv" if (frame["Split_Set"] == CHALLENGE_TEST).any()
                                else f"{AUDIO_DIR}/ files not in the CSV"),
        "unknown_speaker_rows": int(unknown_speaker.sum()),
        "unknown_gender_rows": int(unknown_gender.sum()), **files,
    }
    written = [io.write_text(target / f"{name}.csv", table.to_csv(index=False,
                                                                  lineterminator="\n")),
               io.write_json(target / f"{name}.json", record)]
    LOG.info("%s: %s rows; left out %s; unknown speakers %d, unknown gender %d, transcripts "
             "missing %d", written[0], record["rows"], record["left_out_rows"],
             record["unknown_speaker_rows"], record["unknown_gender_rows"],
             files["transcripts_missing"])
    return written
