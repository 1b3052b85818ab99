"""Speech + text fusion in the multitask task (docs/text.md): a tiny random RoBERTa written with
the library's own classes and loaded back by path; text embeddings cached bit-identically and
keyed by text and weights; missing transcripts refused or counted; a fused model that beats
speech alone on a corpus whose valence is in the words; the CCC loss against its formula."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from emobench.core import scores
from emobench.core.config import ConfigError, resolve
from emobench.downstream.multitask.config import MultitaskConfig
from emobench.downstream.multitask.kinds import Regression, Target, ccc_loss
from emobench.downstream.multitask.task import check
from emobench.downstream.multitask.transcripts import read_transcripts
from emobench.orchestration.cli import main
from emobench.upstream.text import TextEncoder, make_tiny, state_sha256, words_of
from emobench.upstream.text_cache import TextCache, TextCacheSpec, text_embeddings, text_key
from text_corpus import layer, text_corpus

TEXTS = ["Such a wonderful day.", "That was terrible!", "wonderful wonderful", ""]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("tiny")
    return make_tiny(root / "roberta", words_of(TEXTS), seed=0, hidden=32)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    return text_corpus(tmp_path_factory.mktemp("corpus"))


# ---- the text upstream and its cache -------------------------------------------------------------

def test_a_tiny_roberta_loads_by_path_and_pools_every_hidden_state(tiny):
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= {p.name for p in
                                                                    tiny.iterdir()}
    encoder = TextEncoder(str(tiny), "mean", max_tokens=16)
    assert (encoder.num_layers, encoder.dim) == (3, 32) and encoder.source == str(tiny)
    hidden = encoder.embed(TEXTS)
    assert hidden.shape == (4, 3, 32) and torch.isfinite(hidden).all()
    # mean pooling ignores padding: a text alone gives what it gives in a padded batch
    assert torch.allclose(encoder.embed(TEXTS[1:2])[0], hidden[1], atol=1e-5)
    assert encoder.token_counts(["wonderful day", ""]) == [4, 2]  # <s> ... </s>
    cls = TextEncoder(str(tiny), "cls", max_tokens=16).embed(TEXTS[:1])
    assert not torch.allclose(cls, hidden[:1])
    # the builder is deterministic: the same words and seed give the same weights
    again = make_tiny(tiny.parent / "again", words_of(TEXTS), seed=0, hidden=32)
    assert TextEncoder(str(again)).weights_sha256 == encoder.weights_sha256
    assert encoder.weights_sha256 == state_sha256(encoder.model)


def test_unknown_text_upstreams_are_named():
    with pytest.raises(Exception, match="unknown text upstream 'roberta_lrage'; did you mean: "
                                        "roberta_large"):
        TextEncoder("roberta_lrage")
    with pytest.raises(Exception, match="text upstream '/no/such/model': no such model folder"):
        TextEncoder("/no/such/model")


def test_the_cache_reloads_bit_identically_and_is_keyed_by_text_and_weights(tiny, tmp_path):
    encoder = TextEncoder(str(tiny), max_tokens=16)
    direct = encoder.embed(TEXTS)
    cached, written = text_embeddings(encoder, TEXTS, tmp_path, batch_size=3)
    assert written == 4 and torch.equal(cached, direct)
    again, written = text_embeddings(encoder, TEXTS + TEXTS[:1], tmp_path)
    assert written == 0 and torch.equal(again[:4], direct) and torch.equal(again[4], direct[0])
    spec = TextCacheSpec.of(encoder)
    cache = TextCache(tmp_path, spec)
    assert cache.entry(text_key(TEXTS[0])).is_file()
    assert text_key("wonderful day") != text_key("wonderful day.")  # the text is the key
    assert cache.missing(["a new text"]) == ["a new text"]
    # other weights (another seed), pooling or max tokens: another cache folder
    other = TextEncoder(str(make_tiny(tmp_path / "other", words_of(TEXTS), seed=1, hidden=32)),
                        max_tokens=16)
    assert other.weights_sha256 != encoder.weights_sha256
    assert TextCacheSpec.of(other).key() != spec.key()
    assert TextCacheSpec.of(TextEncoder(str(tiny), "cls", 16)).key() != spec.key()
    assert TextCacheSpec.of(TextEncoder(str(tiny), "mean", 8)).key() != spec.key()
    # in memory (no cache folder): the same numbers
    memory, _ = text_embeddings(encoder, TEXTS, None)
    assert torch.equal(memory, direct)


def test_an_interrupted_write_leaves_no_entry(tiny, tmp_path, monkeypatch):
    encoder = TextEncoder(str(tiny), max_tokens=16)
    cache = TextCache(tmp_path, TextCacheSpec.of(encoder))
    calls = {"n": 0}
    real = torch.save

    def interrupted(obj, f, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            f.write(b"partial")
            raise KeyboardInterrupt
        return real(obj, f, *args, **kwargs)

    monkeypatch.setattr(torch, "save", interrupted)
    with pytest.raises(KeyboardInterrupt):
        cache.fill(TEXTS, encoder.embed)
    monkeypatch.setattr(torch, "save", real)
    files = sorted(p.name for p in (cache.folder / "items").rglob("*") if p.is_file())
    assert files == [f"{text_key(TEXTS[0])}.pt"]  # one complete entry, no partial or temp file
    assert cache.missing(TEXTS) == TEXTS[1:]
    assert cache.fill(TEXTS, encoder.embed) == 3
    assert torch.equal(cache.load(TEXTS), encoder.embed(TEXTS))


# ---- transcripts ---------------------------------------------------------------------------------

def test_missing_transcripts_are_named_or_counted(tmp_path):
    folder = tmp_path / "transcripts"
    folder.mkdir()
    audio = [Path(f"audio/clip{i}.wav") for i in range(9)]
    for i in (0, 1, 2):
        (folder / f"clip{i}.txt").write_text(f"text {i}\n", encoding="utf-8")
    (folder / "clip3.txt").write_text("  \n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        read_transcripts(folder, audio)
    message = str(err.value)
    assert "6 of 9 transcripts are missing: 5 absent (clip4.txt, clip5.txt, clip6.txt, " \
           "clip7.txt, clip8.txt); 1 empty (clip3.txt)" in message
    assert "data.missing_transcripts=speech_only" in message
    got = read_transcripts(folder, audio, "speech_only")
    assert got.texts[:4] == ["text 0", "text 1", "text 2", ""] and got.empty == 1
    assert got.missing.tolist() == [False] * 3 + [True] * 6
    splits = np.array(["train"] * 4 + ["val"] * 3 + ["test"] * 2, dtype=object)
    assert got.counts(splits) == {"train": 1, "val": 3, "test": 2, "total": 6}
    with pytest.raises(ConfigError, match="name\\(s\\) occur twice in the table \\(clip0\\)"):
        read_transcripts(folder, [Path("a/clip0.wav"), Path("b/clip0.wav")])
    (folder / "clip4.txt").write_bytes(b"caf\xe9")
    with pytest.raises(Exception, match="clip4.txt: not UTF-8 text"):
        read_transcripts(folder, audio[4:5])


@pytest.mark.parametrize("model, data, message", [
    ({"text": {"upstream": "tiny_random"}}, {}, "data.transcript_dir is not"),
    ({"text": {"upstream": "roberta_lrage"}}, {"transcript_dir": "t"},
     "model.text.upstream: unknown text upstream 'roberta_lrage'; did you mean: roberta_large"),
    ({"fusion": {"projection": 0}}, {}, "model.fusion.projection must be >= 1"),
    ({"speaker": {"prediction": -1}}, {}, "model.speaker.prediction (beta) must be >= 0"),
])
def test_bad_text_settings_are_refused_by_key(model, data, message):
    cfg = layer(**model)
    cfg["data"].update(data_info="t.csv", audio_root="a", **data)
    with pytest.raises(ConfigError) as err:
        check(resolve(MultitaskConfig, cfg))
    assert message in str(err.value)


# ---- the fused model end to end -----------------------------------------------------------------

def train(root: Path, table: Path, name: str, model: dict, *extra: str, seed: int = 1,
          upstream: str = "fbank_no_cmvn", epochs: int = 15) -> dict:
    path = root / f"{name}.yaml"
    path.write_text(yaml.safe_dump(layer(epochs=epochs, **model)))
    code = main(["-m", "train", "-u", upstream, "-d", "multitask", "-c", str(path), "-p",
                 str(root / name), "--device", "cpu", "--seed", str(seed), "-o",
                 f"data.data_info={table},,data.audio_root={table.parent / 'audio'},,"
                 f"data.cache_dir={root / 'cache'},,"
                 f"data.transcript_dir={table.parent / 'transcripts'}", *extra])
    assert code == 0
    return scores.read(root / name / "scores.json")


def test_text_and_speech_beat_speech_alone_on_valence(corpus, tmp_path):
    speech = train(tmp_path, corpus, "speech", {})
    fused = train(tmp_path, corpus, "fused", {"text": {"upstream": "tiny_random"},
                                              "fusion": {"projection": 32}})
    s, f = speech["metrics"]["test"], fused["metrics"]["test"]
    # valence is in the words only: speech alone is near chance, text makes it predictable
    assert f["valence_ccc"] > 0.7 and f["valence_ccc"] > s["valence_ccc"] + 0.4, (s, f)
    assert f["arousal_ccc"] > 0.3  # arousal is still heard
    text = fused["text"]
    assert text["upstream"] == "tiny_random" and text["random_weights"] is True
    assert text["transcripts"] == 200 and text["missing"]["total"] == 0
    assert text["truncated"] == 0 and "text" not in speech
    weights = json.loads((tmp_path / "fused" / "layer_weights.json").read_text())
    assert len(weights["text"]["weights"]) == 3 and weights["text"]["layer"] is None
    assert abs(sum(weights["text"]["weights"]) - 1) < 1e-6
    assert (tmp_path / "fused" / "text_layer_weights.svg").is_file()
    assert (tmp_path / "fused" / "text_model" / "model.safetensors").is_file()
    # -m evaluate rebuilds the same tiny model (deterministic) and reproduces the scores
    assert main(["-m", "evaluate", "-e", str(tmp_path / "fused"), "-p",
                 str(tmp_path / "fused_eval"), "--device", "cpu"]) == 0
    again = scores.read(tmp_path / "fused_eval" / "scores.json")
    assert again["metrics"]["test"] == pytest.approx(f)


def test_text_fusion_composes_with_early_fusion_of_upstreams(corpus, tmp_path):
    """-u a,b with a transcript branch: two speech branches and the text branch, each with its
    own layer weights, concatenated before the heads."""
    fused = train(tmp_path, corpus, "both", {"text": {"upstream": "tiny_random"},
                                             "fusion": {"projection": 16}},
                  upstream="fbank_no_cmvn,fbank_no_cmvn", epochs=2)
    assert [u["name"] for u in fused["upstreams"]] == ["fbank_no_cmvn", "fbank_no_cmvn"]
    assert fused["text"]["transcripts"] == 200
    weights = json.loads((tmp_path / "both" / "layer_weights.json").read_text())
    assert len(weights["upstreams"]) == 2 and len(weights["text"]["weights"]) == 3
    saved = torch.load(tmp_path / "both" / "dev-best.ckpt", weights_only=True)
    assert saved["feature_dim"] == [240, 240]
    # the projection sees both speech branches side by side
    assert saved["model"]["inputs.projection.weight"].shape == (16, 480)


def test_missing_transcripts_fall_back_to_speech_and_are_counted(corpus, tmp_path, capsys):
    gone = ["spk01_00", "spk01_01", "spk15_03", "spk20_09"]
    folder = tmp_path / "transcripts"
    folder.mkdir()
    for path in (corpus.parent / "transcripts").iterdir():
        if path.stem not in gone:
            (folder / path.name).write_text(path.read_text())
    table = tmp_path / "labels.csv"
    table.write_text(corpus.read_text())
    (tmp_path / "audio").symlink_to(corpus.parent / "audio")
    model = {"text": {"upstream": "tiny_random", "layer": 1}, "fusion": {"projection": 16}}
    path = tmp_path / "refused.yaml"
    path.write_text(yaml.safe_dump(layer(epochs=2, **model)))
    assert main(["-m", "train", "-u", "fbank_no_cmvn", "-d", "multitask", "-c", str(path),
                 "-p", str(tmp_path / "refused"), "--device", "cpu", "-o",
                 f"data.data_info={table},,data.audio_root={tmp_path / 'audio'},,"
                 f"data.cache_dir={tmp_path / 'cache'},,data.transcript_dir={folder}"]) == 2
    err = capsys.readouterr().err
    assert not (tmp_path / "cache").exists()  # refused before any feature is extracted
    assert "4 of 200 transcripts are missing: 4 absent (spk01_00.txt, spk01_01.txt, " \
           "spk15_03.txt, spk20_09.txt)" in err
    result = train(tmp_path, table, "fallback", {**model},
                   "-o", f"data.transcript_dir={folder},,data.missing_transcripts=speech_only,,"
                   "train.epochs=2")
    assert result["text"]["missing"] == {"train": 2, "val": 1, "test": 1, "total": 4}
    assert result["text"]["missing_transcripts"] == "speech_only"
    assert result["text"]["transcripts"] == 196 and result["text"]["layer"] == 1
    weights = json.loads((tmp_path / "fallback" / "layer_weights.json").read_text())
    assert weights["text"]["weights"] == [0.0, 1.0, 0.0]


def test_the_speaker_prediction_head_learns_training_speakers_only(corpus, tmp_path):
    result = train(tmp_path, corpus, "spk", {"speaker": {"prediction": 0.5}}, "-o",
                   "train.epochs=2")
    target = result["targets"]["speaker"]
    assert target["weight"] == 0.5 and len(target["labels"]) == 12  # the training speakers
    assert all(label in {f"spk{i:02d}" for i in range(1, 13)} for label in target["labels"])
    assert not any(k.startswith("speaker_") for split in result["metrics"].values()
                   for k in split)  # unseen speakers: no val or test metric


# ---- the CCC loss -------------------------------------------------------------------------------

def ccc_formula(x: np.ndarray, y: np.ndarray) -> float:
    """Lin's CCC with population moments, written out."""
    mx, my = x.mean(), y.mean()
    sxy = ((x - mx) * (y - my)).mean()
    return 2 * sxy / (x.var() + y.var() + (mx - my) ** 2)


def test_the_ccc_loss_is_one_minus_ccc():
    rng = np.random.default_rng(0)
    target = Target(None, Regression(), ("y",), ("y",))
    for _ in range(5):
        x, y = rng.normal(1, 2, 50), rng.normal(0, 1, 50) + 0.5 * rng.normal(1, 2, 50)
        loss = ccc_loss(torch.tensor(x), torch.tensor(y), target)
        assert float(loss) == pytest.approx(1 - ccc_formula(x, y), abs=1e-10)
    xs, ys = rng.normal(size=(30, 3)), rng.normal(size=(30, 3))
    two = ccc_loss(torch.tensor(xs), torch.tensor(ys), target)
    assert float(two) == pytest.approx(np.mean([1 - ccc_formula(xs[:, k], ys[:, k])
                                                for k in range(3)]), abs=1e-10)


@pytest.mark.parametrize("truth", [[1.0, 2.0, 4.0, 3.0], [2.0, 2.0, 2.0, 2.0]])
def test_the_ccc_loss_has_a_finite_gradient_on_constant_predictions(truth):
    target = Target(None, Regression(), ("y",), ("y",))
    for start in ([0.5] * 4, [2.0] * 4, [7.0]):
        x = torch.tensor(start, requires_grad=True)
        y = torch.tensor(truth[:len(start)])
        loss = ccc_loss(x, y, target)
        loss.backward()
        assert torch.isfinite(loss) and torch.isfinite(x.grad).all(), (start, truth)
