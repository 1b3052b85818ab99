"""emobench.corpora.exvo_support: support / query split files of the ExVo few-shot track."""

from __future__ import annotations

import csv
import random
from pathlib import Path

import numpy as np
import pytest

from emobench.corpora.exvo_labels import EMOTIONS, ExVoTable, read_data_info
from emobench.corpora.exvo_support import (SupportSets, make_support, prepare, queries, read_support,
                                     write_support)
from emobench.core.errors import LabelFileError

HEADER = ["File_ID", "Split", "Subject_ID", "Country", "Age", *EMOTIONS]
# speaker -> (Split, labelled clips, unlabelled clips)
SPEAKERS = {"Speaker_1": ("Train", 5, 0), "Speaker_2": ("Train", 4, 0),
            "Speaker_3": ("Val", 6, 0), "Speaker_4": ("Val", 3, 0), "Speaker_5": ("Val", 2, 0),
            "Speaker_6": ("Test", 5, 0), "Speaker_7": ("Test", 2, 3), "Speaker_8": ("Test", 4, 1)}


def info_rows(speakers: dict[str, tuple[str, int, int]] = SPEAKERS) -> list[dict[str, str]]:
    """Rows of a data_info.csv, File_IDs numbered per speaker (Speaker_3's 2nd clip is [302])."""
    rows = []
    for spk, (split, labelled, unlabelled) in speakers.items():
        n = int(spk.split("_")[1])
        for j in range(labelled + unlabelled):
            row = {"File_ID": f"[{100 * n + j + 1}]", "Split": split, "Subject_ID": spk,
                   "Country": "USA", "Age": "30"}
            row.update({e: "" if j >= labelled else f"{(j + k) % 10 / 10:.1f}"
                        for k, e in enumerate(EMOTIONS)})
            if j >= labelled:
                row.update(Country="", Age="")
            rows.append(row)
    return rows


def write_info(root: Path, rows: list[dict[str, str]]) -> Path:
    """``root/data_info.csv`` (no audio: the tables are read with check_audio=False)."""
    root.mkdir(parents=True, exist_ok=True)
    path = root / "data_info.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=HEADER, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return path


def table_of(root: Path, rows: list[dict[str, str]] | None = None) -> ExVoTable:
    path = write_info(root, info_rows() if rows is None else rows)
    return read_data_info(path, root / "wav", check_audio=False)


@pytest.fixture
def table(tmp_path: Path) -> ExVoTable:
    return table_of(tmp_path / "corpus")


def write_csv(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def problems_of(path: Path, table: ExVoTable) -> list[str]:
    with pytest.raises(LabelFileError) as info:
        read_support(path, table)
    assert info.value.source == path
    return info.value.problems


def test_k_per_speaker_and_skipped(table: ExVoTable) -> None:
    sets, skipped = make_support(table, k=2, seed=0)
    # Speaker_5: 2 labelled clips; Speaker_7: 2 labelled (+3 unlabelled, which do not count).
    assert skipped == ["Speaker_5", "Speaker_7"]
    assert list(sets.support) == ["Speaker_3", "Speaker_4", "Speaker_6", "Speaker_8"]
    assert sets.speakers == tuple(sets.support) and len(sets) == 4
    for spk, ids in sets.support.items():
        assert len(ids) == 2 and len(set(ids)) == 2 and list(ids) == sorted(ids)
        for fid in ids:
            i = table.file_ids.index(fid)
            assert table.speakers[i] == spk and table.labelled[i]
            assert table.splits[i] in ("val", "test") and sets.is_support(fid)
    assert not sets.is_support("[101]") and not sets.is_support("nonsense")

    three, skipped3 = make_support(table, k=3, seed=0)
    assert skipped3 == ["Speaker_4", "Speaker_5", "Speaker_7"]
    assert {s: len(v) for s, v in three.support.items()} == {"Speaker_3": 3, "Speaker_6": 3,
                                                             "Speaker_8": 3}
    val_only, _ = make_support(table, k=1, splits=("val",))
    assert list(val_only.support) == ["Speaker_3", "Speaker_4", "Speaker_5"]
    train, _ = make_support(table, k=1, splits=("train",))
    assert list(train.support) == ["Speaker_1", "Speaker_2"]
    for bad in ({"k": 0}, {"seed": -1}, {"splits": ("dev",)}, {"splits": ()}):
        with pytest.raises(ValueError):
            make_support(table, **bad)


def test_deterministic_and_seeded(table: ExVoTable) -> None:
    a, _ = make_support(table, k=2, seed=0)
    b, _ = make_support(table, k=2, seed=0)
    assert a == b and a.support == b.support
    others = [make_support(table, k=2, seed=s)[0] for s in range(1, 6)]
    assert any(o != a for o in others)  # the seed matters
    # 2 of 6 clips: the choices of several seeds cover more than one pair
    assert len({o.support["Speaker_3"] for o in [a, *others]}) > 1


def test_independent_of_row_order_and_other_speakers(tmp_path: Path, table: ExVoTable) -> None:
    reference, _ = make_support(table, k=2, seed=7)
    rows = info_rows()
    random.Random(1).shuffle(rows)
    shuffled = table_of(tmp_path / "shuffled", rows)
    assert shuffled.file_ids != table.file_ids
    assert make_support(shuffled, k=2, seed=7)[0] == reference

    fewer = table_of(tmp_path / "fewer", [r for r in info_rows() if r["Subject_ID"] != "Speaker_4"])
    sets, _ = make_support(fewer, k=2, seed=7)
    assert sets.support == {s: v for s, v in reference.support.items() if s != "Speaker_4"}


def test_queries_exclude_support(table: ExVoTable) -> None:
    sets, _ = make_support(table, k=2, seed=3)
    for spk, ids in sets.support.items():
        q = queries(table, sets, spk)
        assert q.dtype == np.int64 and list(q) == sorted(q)
        assert not any(sets.is_support(table.file_ids[i]) for i in q)
        labelled = {i for i in range(len(table)) if table.speakers[i] == spk and table.labelled[i]}
        assert set(q) | {table.file_ids.index(f) for f in ids} == labelled
        assert len(q) == len(labelled) - 2 >= 1
    assert queries(table, sets, "Speaker_8").size == 2  # its unlabelled clip is no query
    with pytest.raises(KeyError):
        queries(table, sets, "Speaker_1")  # no support set (a Train speaker)


def test_write_read_round_trip(tmp_path: Path, table: ExVoTable) -> None:
    sets, _ = make_support(table, k=2, seed=0)
    path = write_support(tmp_path / "out" / "support.csv", sets)
    assert path == tmp_path / "out" / "support.csv"
    text = path.read_text()
    lines = text.splitlines()
    assert lines[0] == "Subject_ID,File_ID" and len(lines) == 1 + 8 and text.endswith("\n")
    assert lines[1:] == [f"{s},{f}" for s, ids in sets.support.items() for f in ids]
    back = read_support(path, table)
    assert back == sets
    again = write_support(tmp_path / "again.csv", back)
    assert again.read_bytes() == path.read_bytes()
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["support.csv"]  # atomic

    # Rows in any order, blank lines and spaces around cells are accepted.
    body = lines[1:]
    write_csv(tmp_path / "messy.csv", ["Subject_ID,File_ID", "", *[f" {x} " for x in body[::-1]]])
    assert read_support(tmp_path / "messy.csv", table) == sets
    # Speakers given in any order normalise to the same sets and bytes.
    manual = SupportSets({s: tuple(reversed(v)) for s, v in reversed(sets.support.items())})
    assert manual == sets
    assert write_support(tmp_path / "manual.csv", manual).read_bytes() == path.read_bytes()


def test_read_errors_with_line_numbers(tmp_path: Path, table: ExVoTable) -> None:
    path = write_csv(tmp_path / "bad.csv", [
        "Subject_ID,File_ID",
        "Speaker_3,[301]",        # 2: fine
        "Speaker_3,[999]",        # 3: unknown File_ID
        "Speaker_3,[302]",        # 4: listed twice (with 6)
        "Speaker_4,[303]",        # 5: belongs to Speaker_3
        "Speaker_3,[302]",        # 6
        "Speaker_1,[101]",        # 7: Train clip
        "Speaker_8,[805]",        # 8: unlabelled Test clip
        "Speaker_6,[601]",        # 9-13: every clip of Speaker_6, none left to query
        "Speaker_6,[602]",
        "Speaker_6,[603]",
        "Speaker_6,[604]",
        "Speaker_6,[605]",
        "Speaker_4",              # 14: one cell
        ",[401]",                 # 15: empty Subject_ID
        "Speaker_4,",             # 16: empty File_ID
    ])
    problems = problems_of(path, table)
    expected = [
        "line 3: unknown File_ID '[999]'",
        "line 5: File_ID '[303]' belongs to speaker 'Speaker_3'",
        "line 7: File_ID '[101]' is in the Train split",
        "line 8: File_ID '[805]' has no labels",
        "line 14: expected 2 cells",
        "line 15: empty Subject_ID",
        "line 16: empty File_ID",
        "lines 4, 6: File_ID '[302]' is listed 2 times",
        "lines 9, 10, 11, 12, 13: every labelled clip of speaker 'Speaker_6'",
    ]
    assert len(problems) == len(expected), problems
    for prefix, problem in zip(expected, problems):
        assert problem.startswith(prefix), (prefix, problem)
    assert "line 2" not in "\n".join(problems)
    assert str(path) in str(LabelFileError(path, problems))


def test_read_errors_file_and_header(tmp_path: Path, table: ExVoTable) -> None:
    assert problems_of(tmp_path / "missing.csv", table) == [
        "support file does not exist (or is not a file)"]
    assert "does not exist" in problems_of(tmp_path, table)[0]  # a directory
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"Subject_ID,File_ID\n\xff\xfe\x00bad\n")
    assert problems_of(binary, table)[0].startswith("not a readable CSV")
    for lines in (["File_ID,Subject_ID", "[301],Speaker_3"], ["Subject_ID;File_ID"],
                  ["Subject_ID,File_ID,Extra"], [], ["", "Subject_ID,File_ID"]):
        problems = problems_of(write_csv(tmp_path / "header.csv", lines), table)
        assert len(problems) == 1 and problems[0].startswith(
            "line 1: the header must be 'Subject_ID,File_ID'"), problems
    assert problems_of(write_csv(tmp_path / "empty.csv", ["Subject_ID,File_ID"]), table) == [
        "no support clips listed (only the header)"]
    # An Excel byte-order mark is accepted.
    (tmp_path / "bom.csv").write_bytes(b"\xef\xbb\xbfSubject_ID,File_ID\nSpeaker_3,[301]\n")
    assert read_support(tmp_path / "bom.csv", table).support == {"Speaker_3": ("[301]",)}


def test_read_splits(tmp_path: Path, table: ExVoTable) -> None:
    path = write_csv(tmp_path / "s.csv", ["Subject_ID,File_ID", "Speaker_6,[601]"])
    assert read_support(path, table).support == {"Speaker_6": ("[601]",)}
    with pytest.raises(LabelFileError, match="line 2: File_ID '\\[601\\]' is in the Test split"):
        read_support(path, table, splits=("val",))


def test_prepare_writes_the_file(tmp_path: Path) -> None:
    from emobench.corpora.demo_hume_vb import build

    source = build(tmp_path / "corpus", 0, speakers_per_country=4, bursts_per_speaker=6)
    written = prepare(source, tmp_path / "splits")  # a new folder
    assert written == [tmp_path / "splits" / "support_k2_seed0.csv"]
    table = read_data_info(source, source.parent / "wav")
    sets, skipped = make_support(table, k=2, seed=0)
    assert skipped == [] and len(sets) == 8  # 1 Val + 1 Test speaker per country
    assert read_support(written[0], table) == sets
    assert written[0].read_bytes() == write_support(tmp_path / "ref.csv", sets).read_bytes()

    other = prepare(source, tmp_path / "splits", k=3, seed=5)  # an existing folder
    assert other == [tmp_path / "splits" / "support_k3_seed5.csv"]
    assert all(len(v) == 3 for v in read_support(other[0], table).support.values())
    file = prepare(source, tmp_path / "named.csv", k=1, audio_root=str(tmp_path / "nowhere"))
    assert file == [tmp_path / "named.csv"]
    assert all(len(v) == 1 for v in read_support(file[0], table).support.values())

    few = write_info(tmp_path / "few", info_rows({"Speaker_1": ("Train", 3, 0),
                                                 "Speaker_2": ("Val", 2, 0)}))
    with pytest.raises(Exception, match="no Val/Test speaker"):
        prepare(few, tmp_path / "few_out")
    assert not (tmp_path / "few_out").exists()
