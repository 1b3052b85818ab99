"""Cross-corpus targets: EmoGator's recipe writes the emotion label format (-o emotion=true)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from emobench.corpora.emogator import AUDIO_DIR, AUDIO_EXT, categories, prepare
from emobench.corpora.emotion_labels import read_labels
from emobench.downstream.cross_corpus import check_mapping


def test_emogator_emotion_format_has_the_same_rows_and_split(tmp_path: Path):
    audio = tmp_path / "src" / AUDIO_DIR
    audio.mkdir(parents=True)
    for speaker in range(1, 4):
        for category in ("03", "24"):  # Anger, Sadness
            (audio / f"{speaker:06d}-{category}-1{AUDIO_EXT}").touch()
    written = prepare(tmp_path / "src", tmp_path / "out", emotion=True)
    assert [p.name for p in written] == ["data_info.csv", "config.json", "labels_consensus_1.csv"]
    table = read_labels(tmp_path / "out" / "emotion", 1, audio, check_audio=False)
    assert table.classes == categories() and len(table) == 6
    assert table.file_names[0] == "000001-03-1.mp3" and table.speakers[0] == "000001"
    assert [table.classes[i] for i in table.labels.argmax(axis=1)][:2] == ["Anger", "Sadness"]
    assert sorted(set(table.splits)) == ["dev", "test", "train"]  # one speaker each
    # and the shipped EmoDB -> EmoGator mapping fits its classes
    import yaml

    from emobench.core.resources import data_dir

    spec = yaml.safe_load((data_dir("configs") / "cross" / "emodb_to_emogator.yaml").read_text())
    emodb = ["angry", "boredom", "disgust", "fear", "happy", "sad", "neutral"]
    mapping = check_mapping(spec["mapping"], emodb, table.classes, "emodb_to_emogator.yaml")
    assert mapping.dropped_source == ["boredom"] and len(mapping.dropped_target) == 24
    rows = np.isin(table.labels.argmax(axis=1), mapping.to_target)
    assert rows.all()  # Anger and Sadness are both reached
