"""The Hugging Face transformers upstream family: tiny random models of every registered name,
built from transformers' own config classes and saved in the hub's layout (save_pretrained)."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest
import torch

from emobench.core import scores
from emobench.orchestration.cli import main
from emobench.upstream import UPSTREAMS, build_upstream, make_tiny, upstream_info
from emobench.upstream.cache import statistics
from emobench.upstream.hf_family import hidden_shape, tiny_config
from emobench.upstream.hf_models import HF_MODELS
from emobench.upstream.hf_source import ENV

NAMES = list(HF_MODELS)
TOLERANCE = 1e-5  # padded batch vs one utterance alone: float rounding (docs/upstreams.md)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hf_tiny")
    return {name: make_tiny(name, folder / name) for name in NAMES}


def wavs(*lengths: int, seed: int = 1) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [0.1 * torch.randn(n, generator=g) for n in lengths]


def test_names_keep_their_s3prl_meaning_except_emo_superb_overrides():
    assert UPSTREAMS.canonical("wav2vec2") == "wav2vec2_base"  # s3prl: wav2vec2_base_960
    assert UPSTREAMS.canonical("wav2vec2_base_960") == "wav2vec2_base"
    assert UPSTREAMS.canonical("wavlm") == "wavlm_large"  # EMO-SUPERB; s3prl: wavlm_base_plus
    assert UPSTREAMS.canonical("hubert") == "hubert_large_ll60k"
    assert UPSTREAMS.canonical("data2vec") == "data2vec_large_ll60k"
    for name in ("whisper_large_v3", "whisper_medium", "w2v_bert_2", "xls_r_300m",
                 "wavlm_base_plus", "hubert_base", "wav2vec2_base", "data2vec_base"):
        assert UPSTREAMS.entry(name).target == "emobench.upstream.hf_family"


@pytest.mark.parametrize("name", NAMES)
def test_table_matches_the_full_size_config(name):
    """The table's hidden states, dimension and parameters are those of the published config
    (the full-size model is built on the meta device: no weights, no memory)."""
    from transformers import AutoModel

    row, info = HF_MODELS[name], upstream_info(name)
    config = tiny_config(row, full_size=True)
    assert hidden_shape(config) == (row.hidden_states, row.dim) == (info.hidden_states, info.dim)
    # imports first (the tiny model's), outside the meta device: a module that creates tensors at
    # import time (torchaudio's kaldi EPSILON) would otherwise keep meta tensors for the session
    AutoModel.from_config(tiny_config(row))
    with torch.device("meta"):
        model = AutoModel.from_config(config)
    if row.model_type == "whisper":
        model = model.get_encoder()
    assert round(sum(p.numel() for p in model.parameters()) / 1e6, 1) == row.params_m
    assert info.params_m == row.params_m and info.hub_id == row.hub_id


@pytest.mark.parametrize("name", NAMES)
def test_tiny_model_has_the_shapes_of_its_config(name, tiny):
    spec = tiny[name]
    folder = Path(spec.path)
    assert {"config.json", "preprocessor_config.json", "model.safetensors"} <= \
        {p.name for p in folder.iterdir()}
    config = json.loads((folder / "config.json").read_text())
    assert config["model_type"] == HF_MODELS[name].model_type
    up = build_upstream(name, spec.path)
    layers = config.get("encoder_layers", config.get("num_hidden_layers"))
    assert (up.num_layers, up.dim) == (spec.hidden_states, spec.dim) == \
        (layers + 1, config.get("d_model", config.get("hidden_size")))
    assert up.source == f"hf:{folder}" and len(up.checkpoint_sha256) == 64
    assert not any(p.requires_grad for p in up.parameters())


@pytest.mark.parametrize("name", NAMES)
def test_padded_batch_equals_one_by_one(name, tiny):
    """Frame counts match the model's own; where padded batches are the default, features equal
    those of each utterance alone within TOLERANCE; elsewhere extraction is per utterance."""
    up = build_upstream(name, tiny[name].path)
    batch = wavs(16_000, 27_200, 9_600)
    up.padded_batch = True
    padded, lengths = up(batch)
    for i, wav in enumerate(batch):
        alone, n = up([wav])
        assert int(n[0]) == int(lengths[i]) == up.frames(len(wav))
        deviation = float((padded[:, i, :int(n[0])] - alone[:, 0]).abs().max())
        if build_upstream(name, tiny[name].path).padded_batch:  # the default
            assert deviation < TOLERANCE, (name, deviation)
    default = build_upstream(name, tiny[name].path)
    if not default.padded_batch:
        hidden, lengths = default(batch)
        for i, wav in enumerate(batch):
            alone, _ = default([wav])
            torch.testing.assert_close(hidden[:, i, :int(lengths[i])], alone[:, 0])


def test_whisper_pools_only_the_real_audio_alone_or_beside_a_longer_clip(tiny):
    up = build_upstream("whisper_large_v3", tiny["whisper_large_v3"].path)
    assert up.padded_batch  # every clip is padded to 30 s anyway
    short, long = wavs(32_000, 144_000, seed=3)
    alone, n_alone = up([short])
    both, n_both = up([short, long])
    assert n_alone.tolist() == [100] and n_both.tolist() == [100, 450]  # ceil(samples / 320)
    assert alone.shape[2] == 100  # only the real frames come back
    pooled_alone = statistics(alone, n_alone)
    pooled_both = statistics(both, n_both)
    for key in ("mean", "square"):
        torch.testing.assert_close(pooled_both[key][0], pooled_alone[key][0], atol=TOLERANCE,
                                   rtol=0)


def test_whisper_runs_clips_over_30_s_in_windows(tiny):
    up = build_upstream("whisper_base", tiny["whisper_base"].path)
    hidden, lengths = up(wavs(31 * 16_000 + 100))
    assert lengths.tolist() == [1500 + math.ceil((16_000 + 100) / 320)] == [hidden.shape[2]]
    assert torch.isfinite(hidden).all()


def test_w2v_bert_frame_formula_equals_its_feature_extractor(tiny):
    up = build_upstream("w2v_bert_2", tiny["w2v_bert_2"].path)
    for n in (560, 719, 720, 16_000, 16_001, 27_200, 9_600):
        batch = up.expert.extractor([torch.zeros(n).numpy()], sampling_rate=16_000,
                                    return_attention_mask=True, return_tensors="pt")
        assert up.frames(n) == int(batch["attention_mask"].sum()), n


def test_weights_hash_is_the_cache_identity(tiny, tmp_path):
    a = build_upstream("hubert_base", tiny["hubert_base"].path)
    b = build_upstream("hubert_base", make_tiny("hubert_base", tmp_path / "again").path)
    c = build_upstream("hubert_base", make_tiny("hubert_base", tmp_path / "other", seed=1).path)
    assert a.checkpoint_sha256 == b.checkpoint_sha256 != c.checkpoint_sha256


def test_hf_prefix_loads_a_local_folder_and_an_env_shelf(tiny, tmp_path, monkeypatch):
    folder = Path(tiny["wavlm_base_plus"].path)
    monkeypatch.chdir(folder.parent)
    canonical = UPSTREAMS.canonical(f"hf:{folder.name}")
    assert canonical == f"hf:{folder}"  # made absolute: the run works from anywhere
    up = build_upstream(f"hf:{folder.name}")
    assert up.info.name == canonical and up.num_layers == 3
    with pytest.raises(ValueError, match="takes no checkpoint"):
        build_upstream(canonical, str(folder))

    shelf = tmp_path / "shelf"
    shutil.copytree(tiny["whisper_small"].path, shelf / "openai--whisper-small")
    monkeypatch.setenv(ENV, str(shelf))
    assert build_upstream("whisper_small").source == f"hf:{shelf / 'openai--whisper-small'}"


def test_missing_files_are_named(tiny, tmp_path):
    folder = tmp_path / "no_processor"
    shutil.copytree(tiny["whisper_base"].path, folder)
    (folder / "preprocessor_config.json").unlink()
    with pytest.raises(Exception, match="lacks preprocessor_config.json.*openai/whisper-base"):
        build_upstream("whisper_base", str(folder))
    with pytest.raises(Exception, match="not a folder"):
        build_upstream("whisper_base", str(tmp_path / "nowhere"))
    with pytest.raises(Exception, match="no such model folder, and not a hub id"):
        UPSTREAMS.canonical("hf:./nowhere")


def test_offline_start_is_one_paragraph_and_leaves_no_folder(tmp_path, monkeypatch, capsys):
    from huggingface_hub import constants

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "empty_cache"))
    for upstream in ("whisper_large_v3", "hf:facebook/w2v-bert-2.0"):
        code = main(["-m", "train", "-u", upstream, "-d", "emotion", "--demo", "-n", "off",
                     "--device", "cpu"])
        err = capsys.readouterr().err
        assert code == 2 and "Traceback" not in err
        errors = [line for line in err.splitlines() if line.startswith("error:")]
        assert len(errors) == 1  # one paragraph (the other lines are the run's log)
        message = errors[0]
        hub = "openai/whisper-large-v3" if upstream == "whisper_large_v3" else \
            "facebook/w2v-bert-2.0"
        for part in (f"https://huggingface.co/{hub}", "config.json", "preprocessor_config.json",
                     "model.safetensors", str(tmp_path / "empty_cache"), "HF_HUB_OFFLINE"):
            assert part in message, (part, message)
        assert ("-k FOLDER" in message and ENV in message) if upstream == "whisper_large_v3" \
            else "-u hf:FOLDER" in message
        assert not (tmp_path / "results" / "downstream" / "off").exists()


def test_a_start_failing_while_building_removes_its_folder(small_demo, tmp_path, monkeypatch,
                                                           capsys):
    """Past the early check (here switched off), an unavailable upstream found while the task
    builds it still leaves no experiment folder."""
    from huggingface_hub import constants

    from emobench.upstream import hf_family

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "empty_cache"))
    monkeypatch.setattr(hf_family, "available", lambda info, checkpoint: None)
    code = main(["-m", "train", "-u", "whisper_medium", "-d", "emotion", "-n", "late",
                 "--device", "cpu", "-o", f"data.label_dir={small_demo / 'labels'},,"
                 f"data.audio_root={small_demo / 'audio'},,train.epochs=1"])
    assert code == 2 and "https://huggingface.co/openai/whisper-medium" in capsys.readouterr().err
    assert not (tmp_path / "results" / "downstream" / "late").exists()


def test_emotion2vec_is_refused_with_its_route(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert upstream_info("emotion2vec+").training_data_flag.startswith("emotion labels")
    code = main(["-m", "train", "-u", "emotion2vec", "-d", "emotion", "--demo", "-n", "e2v",
                 "--device", "cpu"])
    err = capsys.readouterr().err
    assert code == 2 and "FunASR" in err and "Traceback" not in err
    assert not (tmp_path / "results" / "downstream" / "e2v").exists()


def test_s3prl_offline_hint_names_the_file_and_where_s3prl_looks():
    from emobench.upstream.s3prl_compat import offline_hint

    exc = ConnectionError("HTTPSConnectionPool(host='huggingface.co', port=443): Max retries "
                          "exceeded with url: /s3prl/converted_ckpts/resolve/main/wavlm_large.pt"
                          " (Caused by NameResolutionError(...))")
    text = offline_hint("wavlm_large", exc)
    assert "wavlm_large.pt" in text and "https://huggingface.co/s3prl/converted_ckpts/resolve/" \
        "main/wavlm_large.pt" in text and ".cache/s3prl/download/" in text and "-k PATH" in text


@pytest.fixture(scope="module")
def small_demo(tmp_path_factory) -> Path:
    """The emotion demo corpus (corpora/demo_emotion.py), small: 5 speakers x 6 utterances."""
    from emobench.corpora import demo_emotion

    root = tmp_path_factory.mktemp("demo") / "demo"
    demo_emotion.build(root, seed=0, speakers=5, utterances_per_speaker=6)
    return root


def _train(corpus: Path, args: list[str]) -> dict:
    assert main(["-m", "train", "-d", "emotion", "--device", "cpu", "-o",
                 f"data.label_dir={corpus / 'labels'},,data.audio_root={corpus / 'audio'},,"
                 "train.epochs=2,,train.batch_size=8", *args]) == 0
    return scores.read(Path("results/downstream") / args[args.index("-n") + 1] / "scores.json")


def test_emotion_demo_trains_with_a_tiny_hf_folder(tiny, small_demo, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    folder = tiny["data2vec_base"].path
    result = _train(small_demo, ["-u", f"hf:{folder}", "-n", "hf_demo"])
    assert result["upstream"]["name"] == f"hf:{folder}" == result["upstream"]["source"]
    assert result["upstream"]["training_data_flag"] is None
    assert len(result["per_class"]["f1"]["test"]) == 4
    weights = json.loads(Path("results/downstream/hf_demo/layer_weights.json").read_text())
    assert len(weights["weights"]) == 3

    run = Path("results/downstream/hf_demo").absolute()  # evaluate from another directory
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert main(["-m", "evaluate", "-e", str(run / "dev-best.ckpt"), "-p", "again",
                 "--device", "cpu"]) == 0
    again = scores.read(elsewhere / "again" / "scores.json")
    assert again["metrics"] == result["metrics"] and again["upstream"] == result["upstream"]


def test_scores_record_the_training_data_flag(tiny, small_demo, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    flagged = _train(small_demo, ["-u", "wav2vec2_base_superb_er", "-k",
                                  tiny["wav2vec2_base_superb_er"].path, "-n", "flagged"])
    assert flagged["upstream"]["training_data_flag"].startswith("emotion labels")


def test_docs_list_every_upstream_with_its_flag():
    text = (Path(__file__).resolve().parents[1] / "docs" / "upstreams.md").read_text()
    table = text.split("## Every upstream: loading route, shapes, training data")[1]
    rows = [line for line in table.splitlines() if line.startswith("| ")]
    for name in UPSTREAMS.names():
        row = next((r for r in rows if name in r.split("|")[1].replace(",", " ").split()), None)
        assert row is not None, name
        info = upstream_info(name)
        assert (info.training_data_flag or "-") in row, name
        if info.hidden_states:
            assert f"{info.hidden_states} x {info.dim}" in row, name


@pytest.mark.parametrize("name", ["whisper_base", "wav2vec2_base", "w2v_bert_2"])
def test_top_layers_can_be_fine_tuned(name, tiny):
    from emobench.upstream.finetune import make_trainable

    up = build_upstream(name, tiny[name].path)
    done = make_trainable(up, 1)
    assert done.parameters > 0 and all(".layers.1." in n or "layer_norm" in n
                                       for n in done.names)
    hidden, _ = up.train()(wavs(8_000))
    with torch.enable_grad():
        hidden, _ = up(wavs(8_000))
        hidden[-1].sum().backward()
    assert all(p.grad is not None for p in up.parameters() if p.requires_grad)


def test_unreachable_hub_is_reported_before_any_download(tmp_path, monkeypatch):
    from huggingface_hub import constants

    from emobench.upstream import hf_source

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    for proxy in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(proxy, raising=False)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "empty_cache"))
    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")  # nothing listens there
    with pytest.raises(hf_source.HFModelMissing, match="127.0.0.1:9 not reachable.*hf download"):
        hf_source.locate("xls_r_300m", "facebook/wav2vec2-xls-r-300m", None)


def test_s3prl_offline_run_names_the_file_and_leaves_no_folder(small_demo, tmp_path, monkeypatch,
                                                               capsys):
    """s3prl's download fails (as without network; nothing is fetched): one error naming the
    file, its URL and s3prl's cache path; the run folder is gone."""
    import requests
    from s3prl.util import download

    def no_network(url, dst, *args, **kwargs):
        host, path = url.split("/", 3)[2], "/" + url.split("/", 3)[3]
        raise requests.exceptions.ConnectionError(
            f"HTTPSConnectionPool(host='{host}', port=443): Max retries exceeded with url: "
            f"{path} (Caused by NameResolutionError(...))")

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(download, "_download_dir", tmp_path / "s3prl_cache")
    monkeypatch.setattr(download, "_download_url_to_file", no_network)
    monkeypatch.setattr(download, "_download_url_to_file_requests", no_network)
    code = main(["-m", "train", "-u", "apc", "-d", "emotion", "-n", "apc_off", "--device", "cpu",
                 "-o", f"data.label_dir={small_demo / 'labels'},,"
                 f"data.audio_root={small_demo / 'audio'},,train.epochs=1"])
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert code == 2 and len(errors) == 1
    assert "apc_960hr" in errors[0] and "https://" in errors[0] and "-k PATH" in errors[0]
    assert str(tmp_path / "s3prl_cache") in errors[0]  # where s3prl looks for the file
    assert not (tmp_path / "results" / "downstream" / "apc_off").exists()
