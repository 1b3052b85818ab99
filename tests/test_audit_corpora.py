"""The leakage audit on synthetic label folders of every EMO-SUPERB condition.

For each of the nine conditions (``corpora.conditions``) a tiny folder is written in that
corpus's label-file format: config.json with the condition's classes, one
``labels_consensus_<k>.csv`` per fold of ``partitions/<corpus>.yaml``, realistic FileNames (so
that ``unit_regex`` matches), SpkrIDs as the corpus writes them, every row in the split that
``fold_units`` gives its unit, and 0.1 s wavs of distinct content. The clean folder must audit
as not leaky; leaky variants (a session split over train and test under another speaker id, a
test speaker in train, a test wav's bytes under a new train name) must be caught with the right
kind; an inconsistent fold (an extra unit in Test, a class without a training positive) must be
reported as a count mismatch and in ``no_train_positive``, not as leakage.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

from emobench.corpora import conditions, partitions
from emobench.downstream.emotion.audit import LEAK_KINDS, audit, fold_names, partition_spec
from emobench.corpora.emotion_labels import LabelFileError, read_labels
from helpers_labels import SPLIT_NAMES, write_config, write_csv, write_wav

NAMES = conditions.names()
UNIT_REGEX = [n for n in NAMES if conditions.condition(n).spec().get("unit_regex")]
GENDER = {"F": "Female", "M": "Male"}


@dataclass(frozen=True)
class Utt:
    name: str  # FileName
    unit: str  # the partition unit (session, speaker, official partition)
    speaker: str  # SpkrID
    gender: str
    key: tuple  # what the corpus's name maker needs to name another file of this speaker


# --------------------------------------------------------------------------- file names
# One maker per corpus: (key, i) -> a FileName of that speaker / session, distinct for each i.

def _iemocap_name(key: tuple, i: int) -> str:
    session, gender = key  # Ses01F_impro01_F000.wav, Ses05M_script03_2_M045.wav
    dialog = f"impro0{1 + i % 8}" if i % 2 == 0 else f"script0{1 + i % 3}_{1 + i % 2}"
    return f"Ses{session}{'FM'[i % 2]}_{dialog}_{gender}{i:03d}.wav"


def _improv_name(key: tuple, i: int) -> str:
    session, gender = key  # MSP-IMPROV-S01A-F01-P-FM01.wav: sentence+emotion, speaker, scenario
    sentence, emotion, scenario = 1 + i % 20, "AHNS"[(i // 20) % 4], "PRST"[(i // 80) % 4]
    pair = "FM" if gender == "F" else "MF"
    return f"MSP-IMPROV-S{sentence:02d}{emotion}-{gender}{session}-{scenario}-{pair}{session}.wav"


CREMA_SENTENCES = ("IEO", "TIE", "IOM", "IWW", "TAI", "MTI", "IWL", "ITH", "DFA", "ITS", "TSI",
                   "WSI")
CREMA_EMOTIONS = ("ANG", "DIS", "FEA", "HAP", "NEU", "SAD")


def _crema_name(key: tuple, i: int) -> str:
    (actor,) = key  # 1001_DFA_ANG_XX.wav
    sentence, emotion = CREMA_SENTENCES[i % 12], CREMA_EMOTIONS[(i // 12) % 6]
    level = "HI" if sentence == "IEO" else "XX"
    return f"{actor}_{sentence}_{emotion}_{level}.wav"


NNIME_SCENES = ("angry", "frustration", "happy", "neutral", "sad", "surprise")


def _nnime_name(key: tuple, i: int) -> str:
    session, role = key  # angry_01_A_002.wav: scene, session (dyad), speaker role, turn
    return f"{NNIME_SCENES[int(session) % 6]}_{session}_{role}_{i:03d}.wav"


def _podcast_name(prefix: str) -> Callable[[tuple, int], str]:
    def name(key: tuple, i: int) -> str:
        (podcast,) = key  # MSP-PODCAST_0153_0012.wav: podcast, segment
        return f"{prefix}_{podcast:04d}_{i + 1:04d}.wav"
    return name


NAMERS = {"iemocap": _iemocap_name, "msp_improv": _improv_name, "crema_d": _crema_name,
          "nnime": _nnime_name, "msp_podcast": _podcast_name("MSP-PODCAST"),
          # BIIC-PODCAST's naming is not documented here; any name works (no unit_regex)
          "biic_podcast": _podcast_name("BIIC-PODCAST")}


# --------------------------------------------------------------------------- utterances


def _sessions(cond: conditions.Condition, rows: int, style: str) -> list[Utt]:
    """Session corpora: both actors of every session, ``rows`` files each. SpkrID ``actor``:
    the actor (Ses01F / F01); ``session``: the session number, as partitions/*.yaml describes
    EMO-SUPERB's SpkrID column."""
    units = sorted({u for split in cond.fold_units()[1].values() for u in split})
    out = []
    for session in units:
        for gender in "FM":
            actor = f"Ses{session}{gender}" if cond.corpus == "iemocap" else f"{gender}{session}"
            speaker = actor if style == "actor" else session
            out += [Utt(NAMERS[cond.corpus]((session, gender), i), session, speaker,
                        GENDER[gender], (session, gender)) for i in range(rows)]
    return out


def _crema(cond: conditions.Condition, rows: int) -> list[Utt]:
    actors = sorted({u for split in cond.fold_units()[1].values() for u in split}, key=int)
    return [Utt(_crema_name((a,), i), a, a, ("Male", "Female")[int(a) % 2], (a,))
            for a in actors for i in range(rows)]


def _nnime(rows: int) -> list[Utt]:
    """Every dyad session, speaker A and B (partitions/nnime.yaml ``dyads``), ``rows`` turns
    each; SpkrID without leading zeros. Speaker 8 acts in sessions 04 and 22."""
    dyads = partitions.load("nnime")["dyads"]
    out = []
    for session, pair in sorted(dyads.items()):
        for role, speaker in zip("AB", pair):
            out += [Utt(_nnime_name((session, role), i), speaker, speaker,
                        ("Male", "Female")[int(speaker) % 2], (session, role))
                    for i in range(rows)]
    return out


def _official(cond: conditions.Condition, speakers: int, rows: int) -> list[Utt]:
    """Official-split corpora: ``speakers`` speakers (one podcast each) per official partition
    (Train, Development, Test1, ...), distinct across partitions."""
    units = [u for s in ("train", "dev", "test") for u in cond.fold_units()[1][s]]
    namer, out, n = NAMERS[cond.corpus], [], 0
    for unit in units:
        for _ in range(speakers):
            n += 1
            spk, podcast = str(100 + n), 10 * n
            out += [Utt(namer((podcast,), i), unit, spk, ("Male", "Female")[n % 2], (podcast,))
                    for i in range(rows)]
    return out


def utterances(cond: conditions.Condition, style: str = "actor") -> list[Utt]:
    if cond.corpus in ("iemocap", "msp_improv"):
        return _sessions(cond, 3, style)
    if cond.corpus == "crema_d":
        return _crema(cond, 2)
    if cond.corpus == "nnime":
        return _nnime(2)
    return _official(cond, 4, 4)


def soft_label(j: int, c: int) -> list[float]:
    """Row j: 0.6 on class j % C, 0.4 on the next one (both above 1/C, so both positives)."""
    y = [0.0] * c
    y[j % c] += 0.6
    y[(j + 1) % c] += 0.4
    return y


# --------------------------------------------------------------------------- the folder


@dataclass
class Folder:
    cond: conditions.Condition
    spec: dict
    utts: list[Utt]
    labels: dict[str, list[float]]  # FileName -> soft label
    folds: dict[int, dict[str, list[str]]]  # fold_units
    root: Path

    @property
    def label_dir(self) -> Path:
        return self.root / "labels"

    @property
    def audio_root(self) -> Path:
        return self.root / "audio"

    def split_of(self, fold: int, unit: str) -> str:
        [split] = [s for s, units in self.folds[fold].items() if unit in units]
        return split

    def rows(self, fold: int) -> list[tuple[Utt, str]]:
        """(utterance, train/dev/test) of a fold, exactly as fold_units assigns its unit."""
        return [(u, self.split_of(fold, u.unit)) for u in self.utts]

    def write_fold(self, fold: int, rows: list[tuple[Utt, str]],
                   labels: dict[str, list[float]] | None = None) -> Path:
        labels = {**self.labels, **(labels or {})}
        path = write_csv(self.label_dir / f"labels_consensus_{fold}.csv",
                         [(u.name, labels[u.name], u.speaker, u.gender, SPLIT_NAMES[s])
                          for u, s in rows], self.cond.classes)
        if self.cond.corpus == "nnime":  # the released NNIME files: empty first header cell
            text = path.read_text(encoding="utf-8")
            path.write_text(text[len("FileName"):], encoding="utf-8")
        return path

    def add_wav(self, utt: Utt, seed: int, copy_of: str | None = None) -> None:
        target = self.audio_root / utt.name
        assert not target.exists(), f"{utt.name} is already a file of the fixture"
        if copy_of:
            shutil.copyfile(self.audio_root / copy_of, target)
        else:
            write_wav(target, seconds=0.1, seed=seed)

    def counts(self, fold: int) -> dict[str, int]:
        return {s: sum(1 for _, x in self.rows(fold) if x == s) for s in ("train", "dev", "test")}

    def audit(self, expected_rows: str = "none", **kwargs) -> dict:
        """expected_rows: ``"partition"`` (the real counts), ``"fixture"`` (this clean folder's
        counts) or ``"none"``."""
        spec = {k: v for k, v in self.spec.items() if k != "expected_rows"}
        if expected_rows == "partition":
            spec = self.spec
        elif expected_rows == "fixture":
            spec["expected_rows"] = {k: self.counts(k) for k in self.folds}
        return audit(self.label_dir, self.audio_root, partition=spec, **kwargs)


def build(name: str, root: Path, style: str = "actor") -> Folder:
    cond = conditions.condition(name)
    spec = partition_spec(cond.partition)
    utts = utterances(cond, style)
    assert len({u.name for u in utts}) == len(utts)
    c = len(cond.classes)
    folder = Folder(cond, spec, utts, {u.name: soft_label(j, c) for j, u in enumerate(utts)},
                    cond.fold_units(), root)
    write_config(folder.label_dir, cond.classes)
    for j, u in enumerate(utts):
        folder.add_wav(u, seed=j)
    for fold in folder.folds:
        folder.write_fold(fold, folder.rows(fold))
    return folder


def kinds(report: dict, fold: int | None = None) -> set[str]:
    folds = report["folds"].values() if fold is None else [report["folds"][str(fold)]]
    return {p["kind"] for f in folds for p in f["problems"]}


def first(folder: Folder, fold: int, split: str) -> Utt:
    return next(u for u, s in folder.rows(fold) if s == split)


def last_fold(folder: Folder) -> int:
    return max(folder.folds)


@pytest.fixture(params=NAMES)
def folder(request, tmp_path: Path) -> Folder:
    return build(request.param, tmp_path)


# --------------------------------------------------------------------------- the fixture itself


def test_fixture_follows_the_partition(folder: Folder) -> None:
    """The synthetic folder is what the brief asks: every fold file of the partition, names that
    the unit_regex reads, units in exactly fold_units' splits, every class trained."""
    cond, spec = folder.cond, folder.spec
    assert spec == cond.spec()
    assert fold_names(folder.label_dir) == list(range(1, cond.folds + 1)) == sorted(folder.folds)
    assert set(spec["expected_rows"]) == set(folder.folds)
    for u in folder.utts:
        if spec.get("unit_regex"):
            assert partitions.unit_of(spec, u.name, u.speaker) == u.unit, u.name
        elif cond.unit == "speaker":
            assert partitions.unit_of(spec, u.name, u.speaker) == u.unit == u.speaker
    for fold, units in folder.folds.items():
        table = read_labels(folder.label_dir, fold, folder.audio_root)  # no speaker overlap
        assert table.classes == list(cond.classes)
        for split in ("train", "dev", "test"):
            found = {u.unit for u, s in folder.rows(fold) if s == split}
            assert found == set(units[split]), (fold, split)
            assert int((table.splits == split).sum()) == folder.counts(fold)[split] > 0
        train = table.labels[table.splits == "train"]
        assert ((train > 1 / len(cond.classes)).sum(axis=0) > 0).all(), fold
        np.testing.assert_allclose(table.labels.sum(axis=1), 1.0)


# --------------------------------------------------------------------------- clean


def test_clean_folder_is_not_leaky(folder: Folder) -> None:
    report = folder.audit("partition")
    assert report["leaky"] is False
    # the fixture is tiny: every split differs from the real counts, and that is all reported
    assert kinds(report) == {"expected_rows"}
    assert report["partition_checks"] == {"units": bool(folder.spec.get("unit_regex")
                                                        or folder.spec.get("dyad_regex")),
                                          "expected_rows": True, "content": True}
    for fold in folder.folds:
        got = report["folds"][str(fold)]
        real = folder.spec["expected_rows"][fold]
        assert got["leaky"] is False
        assert got["counts"] == folder.counts(fold)
        assert got["count_mismatches"] == {s: {"expected": real[s], "found": n}
                                           for s, n in folder.counts(fold).items()}
        assert got["speaker_overlap"] == {} and got["content_overlap"] == []
        if folder.spec.get("unit_regex") or folder.spec.get("dyad_regex"):
            assert got["unit_overlap"] == {} and got["units_unmatched"] == 0
        else:
            assert got["unit_overlap"] is None and got["units_unmatched"] is None
        assert got["no_train_positive"] == []
        assert got["class_weights"]["N"] == folder.counts(fold)["train"]
        assert all(w > 0 for w in got["class_weights"]["weights"].values())

    for expected in ("none", "fixture"):
        report = folder.audit(expected)
        assert report["leaky"] is False and report["problems"] == [], expected


# --------------------------------------------------------------------------- leaky


@pytest.mark.parametrize("style", ["actor", "session"])
@pytest.mark.parametrize("name", UNIT_REGEX)
def test_session_file_in_train_under_another_speaker(name: str, style: str,
                                                     tmp_path: Path) -> None:
    """Session corpora: one file of a test session moved into train under a train speaker's id
    leaks the session; only the unit check sees it."""
    folder = build(name, tmp_path, style)
    moved = {}
    for fold in folder.folds:
        rows = folder.rows(fold)
        victim, donor = first(folder, fold, "test"), first(folder, fold, "train")
        moved[fold] = victim.unit
        rows = [(replace(u, speaker=donor.speaker, gender=donor.gender), "train")
                if u == victim else (u, s) for u, s in rows]
        assert victim.speaker != donor.speaker and victim.unit != donor.unit
        folder.write_fold(fold, rows)

    report = folder.audit()
    assert report["leaky"] is True and kinds(report) == {"unit_overlap"}
    for fold, unit in moved.items():
        got = report["folds"][str(fold)]
        n_test = sum(1 for u, s in folder.rows(fold) if u.unit == unit)
        assert got["leaky"] and got["speaker_overlap"] == {} and got["content_overlap"] == []
        assert got["unit_overlap"] == {unit: {"train": 1, "test": n_test - 1}}
        assert any(p.startswith(f"fold {fold}: unit '{unit}'") for p in report["problems"])
    # without the partition's unit_regex nothing is seen: the speakers are clean
    assert audit(folder.label_dir, folder.audio_root)["leaky"] is False


def test_test_speaker_row_in_train(folder: Folder) -> None:
    """A row of a test speaker put into train: speaker_overlap (the audit reads the file with
    allow_speaker_overlap, which training's reader refuses); session corpora see the unit too."""
    moved = {}
    for fold in folder.folds:
        victim = first(folder, fold, "test")
        moved[fold] = victim
        folder.write_fold(fold, [(u, "train" if u == victim else s)
                                 for u, s in folder.rows(fold)])
    with pytest.raises(LabelFileError, match="appears in several splits"):
        read_labels(folder.label_dir, 1, folder.audio_root)

    report = folder.audit()
    session = bool(folder.spec.get("unit_regex") or folder.spec.get("dyad_regex"))
    assert report["leaky"] is True
    assert kinds(report) == ({"speaker_overlap", "unit_overlap"} if session
                             else {"speaker_overlap"})
    for fold, victim in moved.items():
        got = report["folds"][str(fold)]
        rows = folder.rows(fold)
        n_spk = sum(1 for u, _ in rows if u.speaker == victim.speaker)
        assert got["speaker_overlap"] == {victim.speaker: {"train": 1, "test": n_spk - 1}}
        assert got["content_overlap"] == []
        if folder.spec.get("unit_regex"):
            n_unit = sum(1 for u, _ in rows if u.unit == victim.unit)
            assert got["unit_overlap"] == {victim.unit: {"train": 1, "test": n_unit - 1}}
        elif folder.spec.get("dyad_regex"):  # NNIME: the victim's dyad is split too
            assert set(got["unit_overlap"]) == {f"dyad {victim.key[0]}"}
        else:
            assert got["unit_overlap"] is None


def test_test_audio_under_a_new_train_name(folder: Folder) -> None:
    """The bytes of a test wav under a new FileName of a train speaker: content_overlap only."""
    copies = {}
    namer = NAMERS[folder.cond.corpus]
    names = {u.name for u in folder.utts}
    for fold in folder.folds:
        victim, donor = first(folder, fold, "test"), first(folder, fold, "train")
        copy = replace(donor, name=namer(donor.key, 90 + fold))
        assert copy.name not in names
        if folder.spec.get("unit_regex"):
            assert partitions.unit_of(folder.spec, copy.name, copy.speaker) == donor.unit
        folder.add_wav(copy, seed=0, copy_of=victim.name)
        copies[fold] = (victim.name, copy.name)
        folder.write_fold(fold, [*folder.rows(fold), (copy, "train")],
                          {copy.name: folder.labels[victim.name]})

    report = folder.audit()
    assert report["leaky"] is True and kinds(report) == {"content_overlap"}
    for fold, (test_name, train_name) in copies.items():
        got = report["folds"][str(fold)]
        assert got["speaker_overlap"] == {}
        assert got["unit_overlap"] == ({} if folder.spec.get("unit_regex")
                                       or folder.spec.get("dyad_regex") else None)
        [group] = got["content_overlap"]
        assert group["pairs"] == [[{"file": test_name, "split": "test"},
                                   {"file": train_name, "split": "train"}]]
    assert folder.audit(hash_audio=False)["leaky"] is False


# --------------------------------------------------------------------------- inconsistent


def test_extra_test_unit_and_untrained_class(folder: Folder) -> None:
    """The last fold: a unit the partition does not test is in Test (whole, so nothing
    overlaps), and one class has no training positive. Both are reported; neither is leakage."""
    fold = last_fold(folder)
    rows = folder.rows(fold)
    if len(folder.folds[fold]["train"]) > 1:  # move a whole train unit (session, speaker)
        extra = folder.folds[fold]["train"][0]
        rows = [(u, "test" if u.unit == extra else s) for u, s in rows]
        added = sum(1 for u, _ in rows if u.unit == extra)
    else:  # official split: a partition the fold does not list (MSP-PODCAST's Test3)
        extra, added = "Test3", 3
        namer = NAMERS[folder.cond.corpus]
        new = [Utt(namer((9990,), i), extra, "999", "Female", (9990,)) for i in range(added)]
        for i, u in enumerate(new):
            folder.add_wav(u, seed=10_000 + i)
            folder.labels[u.name] = soft_label(i, len(folder.cond.classes))
        rows += [(u, "test") for u in new]
    assert extra not in folder.folds[fold]["test"]
    test_units = {u.unit for u, s in rows if s == "test"}
    assert test_units == {*folder.folds[fold]["test"], extra}

    dropped = folder.cond.classes[-1]
    c = len(folder.cond.classes)
    relabel = {}
    for u, s in rows:
        y = list(folder.labels[u.name])
        if s == "train" and y[c - 1] > 0:  # move its mass to class 0
            y[0], y[c - 1] = y[0] + y[c - 1], 0.0
            relabel[u.name] = y
    folder.write_fold(fold, rows, relabel)

    report = folder.audit("fixture")
    if folder.spec.get("dyad_regex"):  # NNIME: one speaker of a dyad moved: the dyad is split
        assert report["leaky"] is True
        assert kinds(report, fold) == {"expected_rows", "no_train_positive", "unit_overlap"}
        return
    assert report["leaky"] is False
    assert kinds(report) == {"expected_rows", "no_train_positive"}
    assert kinds(report, fold) == {"expected_rows", "no_train_positive"}
    got = report["folds"][str(fold)]
    clean = folder.counts(fold)
    mismatches = {"test": {"expected": clean["test"], "found": clean["test"] + added}}
    if extra != "Test3":
        mismatches["train"] = {"expected": clean["train"], "found": clean["train"] - added}
    assert got["count_mismatches"] == mismatches
    assert got["no_train_positive"] == [dropped]
    assert got["class_weights"]["positives"][dropped] == 0
    assert got["class_weights"]["weights"][dropped] == 0.0
    assert sum(got["class_weights"]["weights"].values()) == pytest.approx(c)
    assert got["speaker_overlap"] == {} and got["content_overlap"] == []
    assert f"fold {fold}: class {dropped!r} has no training positive" in " ".join(
        report["problems"])
    for other in folder.folds:
        if other != fold:
            assert report["folds"][str(other)]["problems"] == []
    # without expected_rows the extra unit goes unseen: the audit does not compare the units
    # of a split with fold_units, only the row counts
    assert kinds(folder.audit()) == {"no_train_positive"}


# --------------------------------------------------------------------------- dyads


def test_nnime_dyad_split_over_train_and_test(tmp_path: Path) -> None:
    folder = build("nnime", tmp_path)
    fold = 1  # tests N5 (sessions 17-21); session 17's speaker A (33) goes to train
    rows = [(u, "train" if u.key == ("17", "A") else s) for u, s in folder.rows(fold)]
    assert {s for u, s in rows if u.key[0] == "17"} == {"train", "test"}
    folder.write_fold(fold, rows)
    report = folder.audit()
    assert report["folds"]["1"]["speaker_overlap"] == {}  # speaker-independent
    assert report["leaky"], "a dyad split over train and test is leakage"


def test_leak_kinds_are_the_three_checked() -> None:
    assert set(LEAK_KINDS) == {"speaker_overlap", "unit_overlap", "content_overlap"}
    assert len(NAMES) == 9 and set(UNIT_REGEX) == {"improv_p", "improv_s", "iemocap"}
