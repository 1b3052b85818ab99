"""emobench.corpora.emotion_labels: EMO-SUPERB label folders read as released, every problem reported.

Each bad-input test corrupts one thing in a tiny valid fold (tests/helpers_labels.py) and checks
that ``read_labels`` raises :class:`LabelFileError` naming the file and, for row problems, the CSV
line (the header is line 1, so 0-based row ``i`` is line ``i + 2``).
"""

from __future__ import annotations

import doctest
import os
from pathlib import Path

import numpy as np
import pytest

from emobench.core import audio as audio_module
from emobench.core.audio import AudioError, resolve_in_root
from emobench.core.errors import UserError
from emobench.corpora import emotion_labels as labels_module
from emobench.corpora.emotion_labels import (LabelFileError, read_corpus_config, read_labels,
                                       smooth)
from helpers_labels import (CLASSES, DEFAULT_ROWS, SPLIT_NAMES, write_config, write_corpus,
                            write_csv, write_wav, with_row)


def _read(corpus, **kwargs):
    return read_labels(corpus.label_dir, 1, corpus.audio_root, **kwargs)


def _error(corpus, **kwargs) -> LabelFileError:
    with pytest.raises(LabelFileError) as info:
        _read(corpus, **kwargs)
    return info.value


def _assert_names_csv(err: LabelFileError, corpus) -> None:
    assert err.source == corpus.csv
    assert str(err).startswith(f"{corpus.csv}: ")


# --------------------------------------------------------------------------- valid fold


def test_valid_fold_reads(tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path)
    table = _read(corpus)
    assert table.source == corpus.csv
    assert table.classes == CLASSES
    assert len(table) == 6
    assert table.file_names == [r[0] for r in DEFAULT_ROWS]
    assert table.splits.tolist() == ["train", "train", "dev", "dev", "test", "test"]
    assert table.speakers == ["spk1", "spk1", "spk2", "spk2", "spk3", "spk3"]
    np.testing.assert_array_equal(table.labels, np.array([r[1] for r in DEFAULT_ROWS]))
    assert table.labels.shape == (6, 3) and table.labels.dtype == np.float64
    assert table.paths == [(corpus.audio_root / r[0]).resolve() for r in DEFAULT_ROWS]
    assert table.num_samples.tolist() == [8000] * 6
    assert table.sample_rates.tolist() == [16000] * 6
    dev = table.subset("dev")
    assert dev.file_names == ["s2_a.wav", "s2_b.wav"] and dev.splits.tolist() == ["dev", "dev"]
    np.testing.assert_array_equal(dev.labels, table.labels[2:4])


def test_class_order_follows_config_not_csv(tmp_path: Path) -> None:
    """Columns in another order (plus EmoAct/EmoVal/EmoDom) still give config.json's order."""
    corpus = write_corpus(tmp_path)
    columns = ["Neutral", "EmoAct", "Anger", "EmoVal", "Happiness", "EmoDom"]
    order = {c: i for i, c in enumerate(CLASSES)}
    rows = []
    for name, labels, spk, gender, split in DEFAULT_ROWS:
        values = {c: labels[order[c]] for c in CLASSES} | {"EmoAct": 3.5, "EmoVal": 4.0,
                                                          "EmoDom": 2.5}
        rows.append((name, [values[c] for c in columns], spk, gender, split))
    write_csv(corpus.csv, rows, columns)
    table = _read(corpus)
    assert table.classes == CLASSES
    np.testing.assert_array_equal(table.labels, np.array([r[1] for r in DEFAULT_ROWS]))


def test_corpus_config(tmp_path: Path) -> None:
    write_config(tmp_path, ["Sad", "Anger", "Neutral"])
    corpus = read_corpus_config(tmp_path)
    assert corpus.classes == ["Sad", "Anger", "Neutral"]
    assert corpus.split_names == SPLIT_NAMES


def test_errors_are_user_errors() -> None:
    assert issubclass(LabelFileError, UserError) and issubclass(LabelFileError, ValueError)
    assert issubclass(AudioError, UserError)


# --------------------------------------------------------------------------- audio problems


def test_missing_audio(tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path)
    missing = corpus.audio_root / "s2_a.wav"
    missing.unlink()
    err = _error(corpus)
    _assert_names_csv(err, corpus)
    assert len(err.problems) == 1
    assert "line 4:" in str(err) and str(missing.resolve()) in str(err)
    assert "does not exist" in str(err)


def test_unreadable_audio(tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path)
    garbage = corpus.audio_root / "s1_b.wav"
    garbage.write_bytes(b"this is not a RIFF file\x00\x01\x02" * 20)
    err = _error(corpus)
    _assert_names_csv(err, corpus)
    assert "line 3:" in str(err) and str(garbage.resolve()) in str(err)
    assert "unreadable audio" in str(err)


def test_zero_length_audio(tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path)
    empty = write_wav(corpus.audio_root / "s3_a.wav", seconds=0.0)
    err = _error(corpus)
    _assert_names_csv(err, corpus)
    assert "line 6:" in str(err) and str(empty.resolve()) in str(err)
    assert "zero length" in str(err)


def test_check_audio_false_skips_audio(tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path, audio=False)
    table = _read(corpus, check_audio=False)
    assert len(table) == 6 and table.num_samples.tolist() == [0] * 6


# --------------------------------------------------------------------------- label values


def test_row_not_summing_to_one(tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path, with_row(1, labels=[0.5, 0.3, 0.1]))
    err = _error(corpus)
    _assert_names_csv(err, corpus)
    assert len(err.problems) == 1
    assert err.problems[0].startswith("line 3:")
    assert "sums to 0.900000" in str(err)


def test_sum_tolerance_is_respected(tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path, with_row(1, labels=[0.5, 0.3, 0.1999]))
    assert len(_read(corpus)) == 6  # |sum - 1| = 1e-4 <= 1e-3
    err = _error(corpus, sum_tolerance=1e-5)
    assert "line 3:" in str(err)


@pytest.mark.parametrize("bad", [[-0.1, 0.6, 0.5], ["abc", 0.5, 0.5], [1.5, 0.0, -0.5], ["", 0.5, 0.5]],
                         ids=["negative", "non-numeric", "above-one", "empty"])
def test_bad_label_value(tmp_path: Path, bad: list) -> None:
    corpus = write_corpus(tmp_path, with_row(4, labels=bad))
    err = _error(corpus)
    _assert_names_csv(err, corpus)
    assert len(err.problems) == 1
    assert err.problems[0].startswith("line 6:")
    assert "label values must be numbers in [0, 1]" in str(err)


# --------------------------------------------------------------------------- splits and header


def test_unknown_split(tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path, with_row(3, split="Validation", speaker="spk9"))
    err = _error(corpus)
    _assert_names_csv(err, corpus)
    assert len(err.problems) == 1
    assert err.problems[0].startswith("line 5:")
    assert "'Validation'" in str(err) and "Development" in str(err)


def test_missing_class_column(tmp_path: Path) -> None:
    rows = [(n, labels[:2], s, g, split) for n, labels, s, g, split in DEFAULT_ROWS]
    corpus = write_corpus(tmp_path, rows, columns=CLASSES[:2])
    err = _error(corpus)
    _assert_names_csv(err, corpus)
    assert "['Neutral']" in str(err) and "missing" in str(err)


def test_extra_unknown_column(tmp_path: Path) -> None:
    rows = [(n, [*labels, 0.0], s, g, split) for n, labels, s, g, split in DEFAULT_ROWS]
    corpus = write_corpus(tmp_path, rows, columns=[*CLASSES, "Surprise"])
    err = _error(corpus)
    _assert_names_csv(err, corpus)
    assert "['Surprise']" in str(err) and "neither classes of config.json" in str(err)


def test_missing_required_column(tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path)
    text = corpus.csv.read_text().replace("Split_Set", "Split")
    corpus.csv.write_text(text)
    err = _error(corpus)
    _assert_names_csv(err, corpus)
    assert "'Split_Set'" in str(err) and "['Split']" in str(err)


def test_duplicate_file_name(tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path, with_row(3, name="s1_a.wav"))
    err = _error(corpus)
    _assert_names_csv(err, corpus)
    assert len(err.problems) == 1
    assert "lines 2, 5:" in str(err) and "duplicate FileName 's1_a.wav'" in str(err)


def test_empty_file_name(tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path, with_row(2, name=""))
    err = _error(corpus)
    assert "line 4: empty FileName" in str(err)


def test_speaker_in_two_splits(tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path, with_row(4, speaker="spk1"))
    err = _error(corpus)
    _assert_names_csv(err, corpus)
    assert len(err.problems) == 1
    assert "speaker 'spk1'" in str(err) and "leakage" in str(err)
    assert "['Test', 'Train']" in str(err)
    assert "allow_speaker_overlap" in str(err)
    table = _read(corpus, allow_speaker_overlap=True)
    assert table.speakers[4] == "spk1" and table.splits[4] == "test"


def test_split_with_no_rows(tmp_path: Path) -> None:
    rows = [r for r in DEFAULT_ROWS if r[4] != "Development"]
    corpus = write_corpus(tmp_path, rows)
    err = _error(corpus)
    _assert_names_csv(err, corpus)
    assert len(err.problems) == 1
    assert "split 'Development' (dev) has no rows" in str(err)


def test_header_only_reports_every_empty_split(tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path, [])
    err = _error(corpus)
    assert len(err.problems) == 3
    for name in SPLIT_NAMES.values():
        assert f"split {name!r}" in str(err)


# --------------------------------------------------------------------------- paths outside the root


def test_file_name_escaping_root_with_dotdot(tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path, with_row(0, name="../outside.wav"))
    outside = write_wav(corpus.audio_root.parent / "outside.wav")
    assert outside.is_file()  # the target exists, and is still refused
    err = _error(corpus)
    _assert_names_csv(err, corpus)
    assert len(err.problems) == 1
    assert err.problems[0].startswith("line 2:")
    assert "'../outside.wav' escapes the audio root" in str(err)


def test_file_name_absolute_path(tmp_path: Path) -> None:
    target = "/etc/passwd" if os.path.isfile("/etc/passwd") else str(write_wav(tmp_path / "x.wav"))
    corpus = write_corpus(tmp_path / "c", with_row(5, name=target))
    err = _error(corpus)
    _assert_names_csv(err, corpus)
    assert len(err.problems) == 1
    assert err.problems[0].startswith("line 7:")
    assert f"{target!r} escapes the audio root" in str(err)


def test_file_name_symlink_escaping_root(tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path)
    outside = write_wav(tmp_path / "outside.wav")
    link = corpus.audio_root / "s1_a.wav"
    link.unlink()
    link.symlink_to(outside)
    err = _error(corpus)
    assert "line 2:" in str(err) and "'s1_a.wav' escapes the audio root" in str(err)


def test_resolve_in_root(tmp_path: Path) -> None:
    assert resolve_in_root(tmp_path, "a/b.wav") == (tmp_path / "a" / "b.wav").resolve()
    assert resolve_in_root(tmp_path, "a/../b.wav") == (tmp_path / "b.wav").resolve()
    for bad in ("../x.wav", "a/../../x.wav", "/etc/passwd"):
        with pytest.raises(AudioError, match="escapes the audio root"):
            resolve_in_root(tmp_path, bad)


# --------------------------------------------------------------------------- folder problems


def test_missing_config_json(tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path)
    (corpus.label_dir / "config.json").unlink()
    err = _error(corpus)
    assert err.source == corpus.label_dir / "config.json"
    assert str(corpus.label_dir / "config.json") in str(err) and "missing" in str(err)


@pytest.mark.parametrize("text", ["{not json", '{"categorical": {}}', "[1, 2, 3]",
                                  '{"categorical": {"emo_type": ["OnlyOne"]}}',
                                  '{"categorical": {"emo_type": ["A", "B"]}, '
                                  '"data_split_type": {"train": "Train", "test": "Test"}}'],
                         ids=["syntax", "no-emo_type", "list", "one-class", "two-splits"])
def test_malformed_config_json(tmp_path: Path, text: str) -> None:
    corpus = write_corpus(tmp_path)
    config = corpus.label_dir / "config.json"
    config.write_text(text)
    err = _error(corpus)
    assert err.source == config and str(err).startswith(f"{config}: ")


def test_config_json_split_list_is_a_label_file_error(tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path)
    (corpus.label_dir / "config.json").write_text(
        '{"categorical": {"emo_type": ["A", "B"]}, "data_split_type": ["train", "dev", "test"]}')
    with pytest.raises(LabelFileError):
        read_corpus_config(corpus.label_dir)


def test_missing_fold_lists_present_files(tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path)
    write_csv(corpus.label_dir / "labels_consensus_3.csv", DEFAULT_ROWS)
    with pytest.raises(LabelFileError) as info:
        read_labels(corpus.label_dir, 2, corpus.audio_root)
    err = info.value
    assert err.source == corpus.label_dir / "labels_consensus_2.csv"
    assert str(err).startswith(f"{corpus.label_dir / 'labels_consensus_2.csv'}: ")
    assert "fold 2 is missing" in str(err)
    assert "['labels_consensus_1.csv', 'labels_consensus_3.csv']" in str(err)


def test_unreadable_csv(tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path)
    corpus.csv.write_bytes(b"")
    err = _error(corpus)
    _assert_names_csv(err, corpus)
    assert "not a readable CSV" in str(err)


# --------------------------------------------------------------------------- many problems at once


def test_all_problems_reported_with_count(tmp_path: Path) -> None:
    rows = with_row(1, labels=[0.5, 0.3, 0.1])
    rows[3] = (rows[3][0], rows[3][1], "spk9", "Male", "Validation")
    corpus = write_corpus(tmp_path, rows)
    (corpus.audio_root / "s3_b.wav").unlink()
    err = _error(corpus)
    _assert_names_csv(err, corpus)
    assert str(err).startswith(f"{corpus.csv}: 3 problem(s)\n")
    assert len(err.problems) == 3
    text = str(err)
    assert "line 3: label row sums to" in text
    assert "line 5: unknown split 'Validation'" in text
    assert "line 7: " in text and "does not exist" in text


def test_long_problem_lists_are_truncated(tmp_path: Path) -> None:
    rows = list(DEFAULT_ROWS) + [(f"extra{i}.wav", [0.5, 0.3, 0.1], "spk1", "Female", "Train")
                                 for i in range(25)]
    corpus = write_corpus(tmp_path, rows)
    err = _error(corpus)
    assert len(err.problems) == 25
    assert str(err).startswith(f"{corpus.csv}: 25 problem(s)\n")
    assert "... and 5 more" in str(err)
    assert "line 8:" in str(err) and "line 32:" not in str(err)  # the 21st+ are not listed


# --------------------------------------------------------------------------- smoothing


def test_smooth_one_hot_nine_classes() -> None:
    y = smooth(np.eye(9)[0])
    assert y[0] == 0.95
    assert (y[1:] == 0.00625).all()
    assert y.sum() == pytest.approx(1.0, abs=1e-9)


def _smooth_by_hand(p: list[float]) -> list[float]:
    c = len(p)
    return [round(0.95 * pk + 0.05 * (1 - pk) / (c - 1), 6) for pk in p]


@pytest.mark.parametrize("classes", [2, 4, 5, 9])
def test_smooth_random_vote_fractions(classes: int) -> None:
    rng = np.random.default_rng(classes)
    raters = rng.integers(1, 12, size=200)
    votes = np.stack([rng.multinomial(n, np.full(classes, 1 / classes)) for n in raters])
    p = votes / raters[:, None]
    y = smooth(p)
    assert y.shape == p.shape
    np.testing.assert_allclose(y.sum(axis=1), 1.0, rtol=0, atol=1e-5)
    expected = np.array([_smooth_by_hand(row.tolist()) for row in p])
    # np.round (x * 1e6, ties to even) and Python's round (exact decimal value of the double)
    # may differ by one unit in the 6th decimal on half-way values such as 0.5984375
    # (p = 5/8, C = 5), so "matches" means within that unit; all other values are identical
    diff = np.abs(y - expected)
    assert (diff <= 1e-6 + 1e-12).all()
    assert (diff < 1e-12).mean() > 0.99
    assert (np.abs(y * 1e6 - np.round(y * 1e6)) < 1e-6).all()  # 6 decimals
    # smoothing keeps the order of the classes within each row
    assert (np.sign(np.diff(y, axis=1)) == np.sign(np.diff(p, axis=1))).all()


def test_smooth_docstring_example() -> None:
    assert smooth(np.array([0.5, 0.5, 0.0, 0.0])).tolist() == [0.483333, 0.483333, 0.016667,
                                                               0.016667]


@pytest.mark.parametrize("module", [labels_module, audio_module], ids=["labels", "audio"])
def test_module_doctests(module) -> None:
    result = doctest.testmod(module)
    assert result.failed == 0 and result.attempted > 0


def test_an_empty_first_header_cell_is_read_as_filename(tmp_path: Path, caplog):
    """EMO-SUPERB's released NNIME label files have ',angry,...' as their header."""
    corpus = write_corpus(tmp_path)
    csv_path = corpus.label_dir / "labels_consensus_1.csv"
    lines = csv_path.read_text().splitlines(keepends=True)
    assert lines[0].startswith("FileName,")
    csv_path.write_text(lines[0][len("FileName"):] + "".join(lines[1:]))
    with caplog.at_level("WARNING", logger="emobench"):
        table = read_labels(corpus.label_dir, 1, corpus.audio_root)
    assert table.file_names[0] == DEFAULT_ROWS[0][0]
    assert "first header cell is empty" in caplog.text
