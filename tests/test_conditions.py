"""EMO-SUPERB's nine conditions: configs, partition files and the registry (corpora/conditions.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from emobench.corpora import conditions, partitions
from emobench.downstream.emotion.config import EmotionConfig
from emobench.core.config import load_yaml, resolve
from emobench.core.errors import UserError
from emobench.core.resources import CHECKOUT as REPO_ROOT
from emobench.core.registry import UnknownNameError

# PROTOCOLS.md section 2 and EMO-SUPERB's reference configs:
# name: (epochs, batch, scheduler, warmup steps, classes, folds)
TRAINING = {
    "improv_p": (45, 32, "none", 0, 4, 6),
    "crema_d": (110, 32, "none", 0, 6, 5),
    "podcast_p": (25, 32, "cosine_warmup", 1600, 8, 1),
    "biic_podcast_p": (25, 32, "cosine_warmup", 3000, 8, 1),
    "iemocap": (40, 32, "none", 0, 9, 5),
    "nnime": (50, 32, "none", 0, 11, 5),
    "improv_s": (60, 32, "none", 0, 10, 6),
    "podcast_s": (20, 16, "cosine_warmup", 1600, 16, 1),
    "biic_podcast_s": (45, 32, "cosine_warmup", 3000, 16, 1),
}
# utterances per fold (train + dev + test)
TOTALS = {"iemocap": 10039, "msp_improv": 8385, "nnime": 5028, "crema_d": 7442,
          "msp_podcast": 84030 + 19815 + 30647 + 14815, "biic_podcast": 48815 + 10845 + 10340}
PARTITION_FILES = ["iemocap", "msp_improv", "nnime", "msp_podcast", "biic_podcast", "crema_d"]


def load_partition(corpus: str) -> dict:
    if not (partitions.PARTITIONS / f"{corpus}.yaml").is_file():
        pytest.skip(f"partitions/{corpus}.yaml is not there (written by another recipe)")
    return partitions.load(corpus)


def test_registry_order_names_and_classes():
    assert conditions.names() == list(TRAINING)
    paper = [conditions.condition(n).paper_name for n in conditions.names()]
    assert paper == ["IMPROV (P)", "CREMA-D", "POD (P)", "B-POD (P)", "IEMOCAP", "NNIME",
                     "IMPROV (S)", "POD (S)", "B-POD (S)"]  # the paper's Table 2 header
    for name, (*_, n_classes, n_folds) in TRAINING.items():
        cond = conditions.condition(name)
        assert len(cond.classes) == n_classes and len(set(cond.classes)) == n_classes, name
        assert cond.folds == n_folds, name
        assert cond.config_path.is_file(), cond.config
    assert conditions.condition("podcast_p").classes == conditions.condition("biic_podcast_p").classes
    assert conditions.condition("podcast_s").classes == conditions.condition("biic_podcast_s").classes
    assert conditions.condition("iemocap").classes[0] == "frustrated"  # config.json order


def test_aliases_and_unknown_names():
    assert conditions.condition("IMPROV (P)").name == "improv_p"
    assert conditions.condition("IMPROV S").name == "improv_s"
    assert conditions.condition("B-POD (S)").name == "biic_podcast_s"
    assert conditions.condition("IEMOCAP").name == "iemocap"
    with pytest.raises(UnknownNameError, match="did you mean"):
        conditions.condition("iemocapp")


@pytest.mark.parametrize("name", list(TRAINING))
def test_config_loads_through_the_typed_config(name: str):
    cond = conditions.condition(name)
    cfg = resolve(EmotionConfig, load_yaml(cond.config_path), None)
    epochs, batch, scheduler, warmup, *_ = TRAINING[name]
    assert (cfg.data.corpus, cfg.data.condition) == (cond.corpus, cond.partition_condition)
    assert cfg.data.max_seconds == 10.0
    assert (cfg.train.epochs, cfg.train.batch_size, cfg.train.scheduler,
            cfg.train.warmup_steps) == (epochs, batch, scheduler, warmup)
    assert cfg.train.lr == 1e-4 and cfg.train.grad_clip == 1.0
    header = cond.config_path.read_text(encoding="utf-8")
    assert f"data.label_dir=<EMO-SUPERB>/data/{cond.label_subdir}" in header
    assert f"-c {cond.config}" in header
    assert ("data.fold=<k>" in header) == (cond.folds > 1)


@pytest.mark.parametrize("corpus", PARTITION_FILES)
def test_partition_folds_are_clean_and_rows_add_up(corpus: str):
    spec = load_partition(corpus)
    assert spec["corpus"] == corpus and spec["conditions"]
    for name, rule in spec["conditions"].items():
        where = f"{corpus}/{name}"
        folds = partitions.fold_units(rule)  # raises when a unit is in two splits of a fold
        assert sorted(folds) == list(range(1, len(folds) + 1)), where
        universe = {u for u in folds[1]["train"] + folds[1]["dev"] + folds[1]["test"]}
        for fold, splits in folds.items():
            units = [u for s in ("train", "dev", "test") for u in splits[s]]
            assert all(isinstance(u, str) for u in units), f"{where} fold {fold}: unquoted unit"
            assert len(units) == len(set(units)) and set(units) == universe, f"{where} {fold}"
            assert all(splits[s] for s in ("train", "dev", "test")), f"{where} fold {fold}"
        expected = rule["expected_rows"]
        assert sorted(expected) == sorted(folds), where
        for fold, rows in expected.items():
            assert set(rows) == {"train", "dev", "test"}, f"{where} fold {fold}"
            assert sum(rows.values()) == TOTALS[corpus], f"{where} fold {fold}: {rows}"
        groups = rule.get("groups")
        if groups is None:
            continue
        # every group is test once and dev once, and has the same rows as test and as dev
        tests = [f["test"] for f in rule["folds"].values()]
        devs = [f["dev"] for f in rule["folds"].values()]
        assert sorted(tests) == sorted(groups) == sorted(devs), where
        as_test = {f["test"]: expected[k]["test"] for k, f in rule["folds"].items()}
        as_dev = {f["dev"]: expected[k]["dev"] for k, f in rule["folds"].items()}
        assert as_test == as_dev, where
        assert sum(as_test.values()) == TOTALS[corpus], where


def test_conditions_of_one_corpus_share_their_folds():
    improv = load_partition("msp_improv")["conditions"]
    assert improv["Primary"] == improv["Secondary"]
    for corpus in ("msp_podcast", "biic_podcast"):
        spec = load_partition(corpus)["conditions"]
        assert spec["Primary"] == spec["Secondary"], corpus


def test_every_condition_finds_its_partition():
    for name in conditions.names():
        cond = conditions.condition(name)
        if not (partitions.PARTITIONS / f"{cond.corpus}.yaml").is_file():
            continue  # crema_d.yaml comes from another recipe
        assert len(cond.fold_units()) == cond.folds, name
        assert cond.expected_rows(1) is not None, name


def test_nnime_groups_keep_every_dyad_together():
    spec = load_partition("nnime")
    groups = spec["conditions"]["Secondary"]["groups"]
    group_of = {s: g for g, speakers in groups.items() for s in speakers}
    assert sorted(group_of, key=int) == [str(i) for i in range(1, 44)]  # 43 speakers
    assert groups["N1"] == [str(i) for i in range(1, 9)] + ["43"]
    for session, pair in spec["dyads"].items():
        assert len({group_of[s] for s in pair}) == 1, f"dyad {session} {pair} is split"


def test_unit_of_on_real_file_names():
    iemocap = conditions.condition("iemocap").spec()
    assert partitions.unit_of(iemocap, "Ses01F_impro01_F000.wav") == "01"
    assert partitions.unit_of(iemocap, "Ses05M_script03_2_M045.wav") == "05"
    assert partitions.unit_of(iemocap, "Audios/Ses03F_impro08_M012.wav") == "03"
    improv = conditions.condition("improv_p").spec()
    assert partitions.unit_of(improv, "MSP-IMPROV-S01A-F01-P-FM01.wav") == "01"
    # "S08A" is the target sentence, not the session: the session is the speaker's number
    assert partitions.unit_of(improv, "MSP-IMPROV-S08A-F03-R-FF01.wav") == "03"
    assert partitions.unit_of(improv, "MSP-IMPROV-S15H-M06-S-MF06.wav") == "06"
    assert partitions.unit_of(improv, "MSP-IMPROV-S20N-M02-T-MF02.wav") == "02"
    assert conditions.condition("improv_s").spec()["unit_regex"] == improv["unit_regex"]
    units = {u for us in conditions.condition("improv_p").fold_units()[1].values() for u in us}
    assert units == {"01", "02", "03", "04", "05", "06"}
    # speaker-group corpora have no unit_regex: the unit is the speaker (SpkrID)
    nnime = conditions.condition("nnime").spec()
    assert partitions.unit_of(nnime, "angry_01_A_002.wav", "1") == "1"


def test_check_fold_counts():
    ok = {"train": 5766, "dev": 2170, "test": 2103}
    assert conditions.check_fold_counts("iemocap", 1, ok) == []
    assert conditions.check_fold_counts(
        "IEMOCAP", "1", {"Train": 5766, "Development": 2170, "Test": 2103}) == []
    problems = conditions.check_fold_counts("iemocap", 1, {**ok, "test": 2100})
    assert any("test has 2,100 rows" in p and "expects 2,103" in p and "3 fewer" in p
               for p in problems), problems
    assert any("10,036 rows in all" in p for p in problems), problems
    problems = conditions.check_fold_counts("improv_s", 6, {"train": 5778, "test": 1499})
    assert problems == ["IMPROV (S) (improv_s) fold 6: no row count for dev "
                        "(partitions/msp_improv.yaml Secondary expects 1,108)"]
    problems = conditions.check_fold_counts("nnime", 2, {"train": 2953, "dev": 1128, "test": 947,
                                                         "valid": 3})
    assert len(problems) == 1 and "unknown split 'valid'" in problems[0]
    assert "no such fold" in conditions.check_fold_counts("podcast_p", 2, {})[0]
    assert "no such fold" in conditions.check_fold_counts("improv_p", 7, ok)[0]
    swapped = conditions.check_fold_counts(
        "biic_podcast_s", 1, {"train": 48815, "dev": 10340, "test": 10845})
    assert len(swapped) == 2 and "dev has 10,340 rows" in swapped[0]


def test_check_label_folder(tmp_path: Path):
    folder = tmp_path / "IEMOCAP" / "Secondary"
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"data_split_type": {
        "train": "Train", "dev": "Development", "test": "Test"}}))
    rows = ["FileName,frustrated,SpkrID,Split_Set", "Ses01F_a_F000.wav,1,01,Train",
            "Ses01F_a_F001.wav,1,01,Train", "Ses04F_a_F000.wav,1,04,Test",
            "Ses05F_a_F000.wav,1,05,Development"]
    (folder / "labels_consensus_1.csv").write_text("\n".join(rows) + "\n")
    assert conditions.label_counts(folder, 1) == {"train": 2, "test": 1, "dev": 1}
    problems = conditions.check_label_folder("iemocap", folder, folds=[1, 2])
    assert any("train has 2 rows" in p for p in problems)
    assert any("fold 2" in p and "does not exist" in p for p in problems)


def test_registry_reads_no_partition_file_until_asked(monkeypatch, tmp_path: Path):
    monkeypatch.setattr(partitions, "PARTITIONS", tmp_path)  # no partition files at all
    cond = conditions.condition("crema_d")
    assert cond.partition == "crema_d/Primary" and cond.folds == 5
    assert len(conditions.names()) == 9
    with pytest.raises(UserError, match="no partition file"):
        cond.spec()
    (tmp_path / "crema_d.yaml").write_text("corpus: crema_d\nconditions: {Other: {folds: {}}}\n")
    with pytest.raises(UserError, match="no condition 'Primary'"):
        cond.spec()


def test_command_and_docs():
    cmd = conditions.condition("improv_p").command("wavlm_large", "/e", "/a", 3)
    assert cmd == ('python run_downstream.py -m train -u wavlm_large -d emotion '
                   '-c configs/emotion/improv_p.yaml -n wavlm_large_improv_p_fold3 '
                   '-o "data.label_dir=/e/data/IMPROV/Primary,,data.audio_root=/a,,data.fold=3"')
    assert "data.fold" not in conditions.condition("podcast_p").command()
    docs = (REPO_ROOT / "docs" / "conditions.md").read_text(encoding="utf-8")
    for name in conditions.names():
        assert conditions.condition(name).config in docs, name
