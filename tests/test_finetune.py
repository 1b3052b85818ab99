"""Fine-tuning the upstream (-f, --upstream_trainable_layers, train.upstream_lr) on a tiny random
WavLM: what is trained changes and nothing else does, a frozen run changes nothing, the
checkpoint carries the fine-tuned weights so that -m evaluate reproduces the scores, the frames
path computes the pooled path's functionals, and the cache is refused where it cannot serve."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from emobench.core.config import ConfigError
from emobench.downstream import common
from emobench.orchestration.cli import main
from emobench.upstream import build_upstream, make_tiny
from emobench.upstream.finetune import make_trainable

from helpers_labels import write_corpus
from test_multitask import config, tiny_corpus

NAME = "wavlm_large"  # tiny: 2 transformer layers of width 64, pre-LN


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    root = tmp_path_factory.mktemp("finetune")
    table = tiny_corpus(root / "corpus")
    layer = root / "multitask.yaml"
    layer.write_text(yaml.safe_dump(config(model={"functionals": "mean_std"})))
    return {"root": root, "table": table, "config": layer,
            "ckpt": make_tiny(NAME, root / "wavlm.pt").path}


def reference(work) -> dict[str, torch.Tensor]:
    """The tiny upstream's weights as its checkpoint holds them."""
    return dict(build_upstream(NAME, work["ckpt"]).expert.state_dict())


def run(work, name: str, *extra: str, task: str = "multitask", upstream: str = NAME,
        mode: str = "train") -> int:
    table = work["table"]
    return main(["-m", mode, "-u", upstream, *(["-k", work["ckpt"]] if upstream == NAME else []),
                 "-d", task, "-c", str(work["config"]), "-p", str(work["root"] / name),
                 "--device", "cpu", "-o",
                 f"data.data_info={table},,data.audio_root={table.parent / 'audio'},,"
                 f"data.cache_dir={work['root'] / name / 'cache'}", *extra])


@pytest.fixture
def built(monkeypatch):
    """Every upstream a run builds, to look at its weights after training."""
    seen = []

    def build(*args, **kwargs):
        seen.append(build_upstream(*args, **kwargs))
        return seen[-1]

    monkeypatch.setattr(common, "build_upstream", build)
    return seen


def changed(before: dict[str, torch.Tensor], after: dict[str, torch.Tensor]) -> set[str]:
    assert set(before) == set(after)
    return {k for k in before if not torch.equal(before[k], after[k])}


def test_make_trainable_chooses_what_the_hidden_states_reach(work):
    up = build_upstream(NAME, work["ckpt"])
    assert up.fine_tuning is None and not any(p.requires_grad for p in up.parameters())
    with torch.enable_grad():
        assert not up([torch.randn(8000)])[0].requires_grad  # frozen: never a graph
    every = make_trainable(up)
    assert every.names and every.parameters == sum(
        p.numel() for p in up.parameters() if p.requires_grad)
    assert not any("feature_extractor" in n or n == "model.mask_emb" for n in every.names)
    assert any(n.startswith("model.encoder.layers.0.") for n in every.names)
    assert up([torch.randn(8000)])[0].requires_grad
    top = make_trainable(up, 1)
    assert {n.split(".")[3] if ".layers." in n else n for n in top.names} == {
        "1", "model.encoder.layer_norm.weight", "model.encoder.layer_norm.bias"}
    assert {n for n, p in up.expert.named_parameters() if p.requires_grad} == set(top.names)
    with pytest.raises(ConfigError, match="--upstream_trainable_layers 3: this upstream has 2"):
        make_trainable(up, 3)


def test_upstreams_that_cannot_be_fine_tuned_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="upstream fbank_no_cmvn has nothing to train"):
        make_trainable(build_upstream("fbank_no_cmvn"))
    with pytest.raises(ConfigError, match="egemaps cannot be fine-tuned: openSMILE computes"):
        make_trainable(build_upstream("egemaps"))
    apc = build_upstream("apc", make_tiny("apc", tmp_path / "apc.pt").path)
    with pytest.raises(ConfigError, match="apc_960hr has no transformer layer list"):
        make_trainable(apc, 1)
    assert make_trainable(apc).parameters > 0  # all of it: its RNN layers


def test_the_frames_path_computes_the_pooled_functionals(work):
    from emobench.downstream.functionals import functionals
    from emobench.downstream.multitask import frames
    from emobench.downstream.pooling import pooled_statistics
    from emobench.downstream.waveforms import Standardizer, WaveformDataset
    from emobench.upstream import Featurizer

    paths = sorted((work["table"].parent / "audio").rglob("*.wav"))[:5]
    data = WaveformDataset(paths, None, Standardizer(0.01, 0.5), False)
    up = build_upstream(NAME, work["ckpt"])
    stats = pooled_statistics(data, up, True, 2, torch.device("cpu"), names=("mean", "square"))
    pooled = functionals(stats["mean"], stats["square"], "mean_std")
    make_trainable(up)
    rows = frames.FrameRows(data, np.arange(len(data)), up.num_layers, 2 * up.dim)
    head = torch.nn.Module()
    head.featurizer = Featurizer(up.num_layers, normalize=True)
    model = frames.FramesModel(up, head, "mean_std", chunk=2)
    got = model.features(rows.to(torch.device("cpu")))
    assert got.shape == rows.shape == pooled.shape and got.requires_grad
    torch.testing.assert_close(got.detach(), pooled, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(model.features(rows[[4, 1]]).detach(), pooled[[4, 1]],
                               atol=1e-5, rtol=1e-4)
    from emobench.downstream.pooling import feature_cache

    with pytest.raises(ConfigError, match="fine-tuned .-f.: its features are never read"):
        feature_cache(str(work["root"] / "cache"), data, up, False, "float32")


def test_a_frozen_run_changes_no_upstream_weight(work, built):
    assert run(work, "frozen") == 0
    assert changed(reference(work), built[-1].expert.state_dict()) == set()
    saved = torch.load(work["root"] / "frozen" / "last.ckpt", weights_only=True)
    assert not any(k.startswith("upstream.") for k in saved["model"])
    assert len(saved["optimizer"]["param_groups"]) == 1
    result = json.loads((work["root"] / "frozen" / "scores.json").read_text())
    assert result["feature_path"] == "pooled_mean_std" and not result["upstream"]["trainable"]


@pytest.fixture(scope="module")
def fine_tuned(work):
    assert run(work, "all", "-f", "-o", "train.upstream_lr=3e-4") == 0
    return work["root"] / "all"


def test_fine_tuning_all_changes_every_trainable_weight_and_only_those(work, fine_tuned):
    saved = torch.load(fine_tuned / "dev-best.ckpt", weights_only=True)
    after = {k[len("upstream.expert."):]: v for k, v in saved["model"].items()
             if k.startswith("upstream.expert.")}
    trainable = set(make_trainable(build_upstream(NAME, work["ckpt"])).names)
    assert changed(reference(work), after) == trainable
    spec = saved["run"]["upstream"]
    assert spec["trainable"] and spec["trainable_layers"] is None
    last = torch.load(fine_tuned / "last.ckpt", weights_only=True)
    groups = last["optimizer"]["param_groups"]
    assert [g["lr"] for g in groups] == [1e-3, 3e-4] and len(groups[1]["params"]) == len(trainable)
    assert not (fine_tuned / "cache").exists()  # nothing cached
    result = json.loads((fine_tuned / "scores.json").read_text())
    assert result["feature_path"] == "frames_mean_std" and result["upstream"]["trainable"]


def test_evaluate_of_a_fine_tuned_checkpoint_reproduces_the_scores(work, fine_tuned):
    assert main(["-m", "evaluate", "-e", str(fine_tuned), "-p", str(fine_tuned / "again"),
                 "--device", "cpu"]) == 0
    first, again = (json.loads((f / "scores.json").read_text())
                    for f in (fine_tuned, fine_tuned / "again"))
    assert again["metrics"] == first["metrics"]
    assert again["feature_path"] == "frames_mean_std"
    assert "weights come from the checkpoint" in (fine_tuned / "again" / "log.log").read_text()


def test_fine_tuning_the_top_layer_changes_exactly_that_layer(work, built):
    assert run(work, "top1", "-f", "--upstream_trainable_layers", "1",
               "-o", "train.epochs=1") == 0
    moved = changed(reference(work), built[-1].expert.state_dict())
    assert moved and all(k.startswith(("model.encoder.layers.1.", "model.encoder.layer_norm."))
                         for k in moved)
    assert moved == set(make_trainable(build_upstream(NAME, work["ckpt"]), 1).names)


def test_the_emotion_frames_path_fine_tunes_and_evaluates(tmp_path, work, built):
    corpus = write_corpus(tmp_path)
    out = tmp_path / "emotion"
    assert main(["-m", "train", "-u", NAME, "-k", work["ckpt"], "-d", "emotion", "-f",
                 "-p", str(out), "--device", "cpu", "-o",
                 f"data.label_dir={corpus.label_dir},,data.audio_root={corpus.audio_root},,"
                 f"data.cache_dir={tmp_path / 'cache'},,train.epochs=2,,train.lr=1e-3"]) == 0
    assert changed(reference(work), built[-1].expert.state_dict())
    # no feature entry (the waveform standardisation's two numbers may be cached: not features)
    assert not [p for p in (tmp_path / "cache").rglob("*.pt")]
    assert main(["-m", "evaluate", "-e", str(out), "-p", str(out / "again"),
                 "--device", "cpu"]) == 0
    first, again = (json.loads((f / "scores.json").read_text()) for f in (out, out / "again"))
    assert again["feature_path"] == "frames" and again["metrics"] == first["metrics"]


@pytest.mark.parametrize("extra, message", [
    (["-m", "extract", "-f"], "-f/--upstream_trainable with -m extract: the feature cache"),
    (["--upstream_trainable_layers", "1"], "together with -f/--upstream_trainable"),
    (["-f", "--upstream_trainable_layers", "5"], "this upstream has 2 transformer layers"),
    (["-f", "-o", "train.upstream_lr=0"], "train.upstream_lr must be > 0"),
])
def test_refusals_name_the_flag_and_the_reason(work, capsys, extra, message):
    mode = extra[1] if extra[0] == "-m" else "train"
    rest = extra[2:] if extra[0] == "-m" else extra
    assert run(work, "refused", *rest, mode=mode) == 2
    assert message in capsys.readouterr().err


def test_cache_bound_paths_and_parameterless_upstreams_are_refused(tmp_path, work, capsys):
    corpus = write_corpus(tmp_path)
    assert main(["-m", "train", "-u", NAME, "-k", work["ckpt"], "-d", "emotion", "-f",
                 "-p", str(tmp_path / "pooled"), "--device", "cpu", "-o",
                 f"data.label_dir={corpus.label_dir},,data.audio_root={corpus.audio_root},,"
                 "train.epochs=1,,train.feature_path=pooled"]) == 2
    assert "-f/--upstream_trainable: train.feature_path=pooled" in capsys.readouterr().err
    assert run(work, "fbank", "-f", upstream="fbank_no_cmvn") == 2
    assert "upstream fbank_no_cmvn has nothing to train" in capsys.readouterr().err
    assert main(["-m", "evaluate", "-e", str(tmp_path / "x.ckpt"), "-f"]) == 2
    assert "-f/--upstream_trainable applies to training" in capsys.readouterr().err


def test_a_task_without_a_frames_path_refuses_fine_tuning(work):
    from emobench.core.context import RunContext, UpstreamSpec

    spec = UpstreamSpec(NAME, work["ckpt"], trainable=True)
    ctx = RunContext("train", "exvo_fewshot", work["root"], spec, 0, torch.device("cpu"), None)
    with pytest.raises(ConfigError, match="-f/--upstream_trainable: this task trains on pooled"):
        common.upstream_of(ctx)
    assert common.upstream_of(ctx, fine_tune=None).fine_tuning is not None


def test_fine_tuning_composes_with_text_fusion(tmp_path, work, built):
    """-f with a text branch (IS25's fine-tuned WavLM + RoBERTa): the speech functionals come from
    the fine-tuned upstream on every batch, the text embeddings from the text cache."""
    from text_corpus import layer, text_corpus

    table = text_corpus(tmp_path / "corpus", clips=4)
    config = tmp_path / "text.yaml"
    config.write_text(yaml.safe_dump(layer(epochs=2, text={"upstream": "tiny_random"},
                                           fusion={"projection": 8})))
    out = tmp_path / "run"
    assert main(["-m", "train", "-u", NAME, "-k", work["ckpt"], "-d", "multitask", "-f",
                 "-c", str(config), "-p", str(out), "--device", "cpu", "-o",
                 f"data.data_info={table},,data.audio_root={table.parent / 'audio'},,"
                 f"data.transcript_dir={table.parent / 'transcripts'},,"
                 f"data.cache_dir={tmp_path / 'cache'}"]) == 0
    assert changed(reference(work), built[-1].expert.state_dict())  # the upstream was trained
    result = json.loads((out / "scores.json").read_text())
    assert result["feature_path"] == "frames_mean" and result["text"]["transcripts"] > 0
    assert not (tmp_path / "cache" / "pooled").exists()  # no speech features were cached


def test_fine_tuning_several_upstreams_is_refused(work, capsys):
    assert run(work, "two", "-f", upstream="fbank_no_cmvn,fbank_no_cmvn") == 2
    assert ("-f/--upstream_trainable with several upstreams (-u fbank_no_cmvn,fbank_no_cmvn)"
            in capsys.readouterr().err)
