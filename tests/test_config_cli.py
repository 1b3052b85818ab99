"""emobench.core.config (defaults <- file <- overrides, typed, safe) and emobench.orchestration.cli user errors.

User errors must reach the command line as ``error: ...`` on stderr with exit code 2, naming
the bad key, name or file and, where one is near, the valid one ("did you mean").
"""

from __future__ import annotations

import doctest
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pytest
import yaml

from emobench.core import config as config_module
from emobench.core import registry as registry_module
from emobench.orchestration.cli import main
from emobench.core.config import ConfigError, load_yaml, parse_overrides, resolve
from emobench.core.errors import UserError
from emobench.core.experiment import LOG
from emobench.downstream.emotion.config import EmotionConfig

# --------------------------------------------------------------------------- resolve: layering


def test_defaults_file_overrides_order() -> None:
    file_layer = {"train": {"lr": 0.01, "batch_size": 8}, "data": {"fold": 2}}
    cfg = resolve(EmotionConfig, file_layer, "train.lr=1e-3,,data.max_seconds=5")
    assert cfg.train.lr == 0.001  # override over file
    assert cfg.train.batch_size == 8  # file over default
    assert cfg.data.fold == 2
    assert cfg.data.max_seconds == 5.0  # override over default
    assert cfg.train.weight_decay == 0.01 and cfg.model.hidden_dim == 256  # defaults
    assert file_layer == {"train": {"lr": 0.01, "batch_size": 8}, "data": {"fold": 2}}


def test_no_layers_gives_defaults() -> None:
    assert resolve(EmotionConfig) == EmotionConfig()
    assert resolve(EmotionConfig, None, "") == EmotionConfig()
    assert resolve(EmotionConfig, {}, " ,, ") == EmotionConfig()


def test_later_override_wins() -> None:
    cfg = resolve(EmotionConfig, {}, "train.epochs=3,,train.epochs=7")
    assert cfg.train.epochs == 7


def test_override_values_are_yaml_typed() -> None:
    cfg = resolve(EmotionConfig, {"train": {"epochs": 40}, "data": {"corpus": "x"}},
                  "train.epochs=3,,train.lr=1e-3,,train.weight_decay=0,,data.standardize=false,,"
                  "data.preload_audio=true,,data.corpus=null,,data.label_dir=/data/a=b,,"
                  "train.scheduler=cosine_warmup,,data.allow_speaker_overlap=True")
    assert cfg.train.epochs == 3 and type(cfg.train.epochs) is int
    assert cfg.train.lr == 0.001 and type(cfg.train.lr) is float
    assert cfg.train.weight_decay == 0.0 and type(cfg.train.weight_decay) is float
    assert cfg.data.standardize is False and cfg.data.preload_audio is True
    assert cfg.data.allow_speaker_overlap is True
    assert cfg.data.corpus is None  # null overrides a file value
    assert cfg.data.label_dir == "/data/a=b"  # split at the first '='
    assert cfg.train.scheduler == "cosine_warmup"
    assert resolve(EmotionConfig, {"train": {"epochs": 5}}, "train.epochs=null").train.epochs is None


def test_parse_overrides_values() -> None:
    assert parse_overrides("a=1,,b=1e-3,,c=2.5E2,,d=[1, 2],,e=null,,f=off,,g={x: 1},,h=text,,i=") == [
        ("a", 1), ("b", 0.001), ("c", 250.0), ("d", [1, 2]), ("e", None), ("f", False),
        ("g", {"x": 1}), ("h", "text"), ("i", "")]
    assert parse_overrides(None) == [] and parse_overrides("") == []


@dataclass
class Inner:  # module level: resolve reads the (string) annotations with typing.get_type_hints
    layers: list[int] = field(default_factory=lambda: [0])
    mode: Literal["a", "b"] = "a"


@dataclass
class Outer:
    inner: Inner = field(default_factory=Inner)
    scale: float = 1.0


def test_lists_through_resolve() -> None:
    cfg = resolve(Outer, {"scale": 2}, "inner.layers=[1, 2, 3]")
    assert cfg.inner.layers == [1, 2, 3] and cfg.scale == 2.0
    with pytest.raises(ConfigError, match=r"inner\.layers\[1\]"):
        resolve(Outer, {}, "inner.layers=[1, x]")
    with pytest.raises(ConfigError, match=r"inner\.layers: expected a list"):
        resolve(Outer, {}, "inner.layers=3")


def test_config_prefix_is_optional() -> None:
    a = resolve(EmotionConfig, {}, "config.model.hidden_dim=64,,config.train.epochs=2")
    b = resolve(EmotionConfig, {}, "model.hidden_dim=64,,train.epochs=2")
    assert a == b and a.model.hidden_dim == 64 and a.train.epochs == 2


def test_code_like_string_is_kept_and_never_run(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    code = f"__import__('os').system('touch {marker}')"
    cfg = resolve(EmotionConfig, {}, f"data.corpus={code}")
    assert cfg.data.corpus == code
    assert parse_overrides(f"config.data.condition={code}") == [("data.condition", code)]
    assert not marker.exists()
    # in a typed field it is a type error, not an evaluation
    with pytest.raises(ConfigError, match=r"train\.epochs"):
        resolve(EmotionConfig, {}, f"train.epochs={code}")
    assert not marker.exists()


def test_python_tag_in_override_is_refused(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    tag = f'!!python/object/apply:os.system ["touch {marker}"]'
    # a string field keeps the text as written: nothing is parsed, nothing runs
    assert resolve(EmotionConfig, {}, f"data.corpus={tag}").data.corpus == tag
    # any other field parses it with yaml.safe_load, which refuses python tags
    with pytest.raises(ConfigError, match="not valid YAML"):
        resolve(EmotionConfig, {}, f"train.epochs={tag}")
    assert not marker.exists()


# --------------------------------------------------------------------------- resolve: errors


@pytest.mark.parametrize("override,bad,hint", [
    ("train.epoch=3", "train.epoch", "train.epochs"),
    ("config.train.epoch=3", "train.epoch", "train.epochs"),
    ("trian.epochs=3", "trian.epochs", "train.epochs"),
    ("dta.fold=2", "dta.fold", "data.fold"),
    ("data.lable_dir=/x", "data.lable_dir", "data.label_dir"),
    ("modle=3", "modle", "model"),
], ids=["nested", "prefixed", "top-of-path", "top-of-path-2", "nested-2", "top-level"])
def test_unknown_override_key_suggests_closest(override: str, bad: str, hint: str) -> None:
    with pytest.raises(ConfigError) as info:
        resolve(EmotionConfig, {}, override)
    message = str(info.value)
    assert f"unknown config key {bad!r}" in message
    assert "did you mean" in message
    assert hint in message.split("did you mean", 1)[1]


@pytest.mark.parametrize("layer,bad,hint", [
    ({"train": {"epoch": 3}}, "train.epoch", "train.epochs"),
    ({"trian": {"epochs": 3}}, "trian", "train"),
    ({"data": {"audio_rot": "/a"}}, "data.audio_rot", "data.audio_root"),
], ids=["nested", "top-level", "nested-2"])
def test_unknown_file_key_suggests_closest(layer: dict, bad: str, hint: str) -> None:
    with pytest.raises(ConfigError) as info:
        resolve(EmotionConfig, layer)
    message = str(info.value)
    assert f"unknown config key {bad!r}" in message
    assert hint in message.split("did you mean", 1)[1]


def test_no_sub_keys_below_a_leaf() -> None:
    with pytest.raises(ConfigError, match="'data.fold' has no sub-keys"):
        resolve(EmotionConfig, {}, "data.fold.x=1")


@pytest.mark.parametrize("override,key", [
    ("train.epochs=abc", "train.epochs"),
    ("train.epochs=1.5", "train.epochs"),
    ("train.epochs=true", "train.epochs"),
    ("train.select_metric=bogus", "train.select_metric"),
    ("train.scheduler=linear", "train.scheduler"),
    ("train.lr=fast", "train.lr"),
    ("data.standardize=maybe", "data.standardize"),
    ("data.max_seconds=[1, 2]", "data.max_seconds"),
    ("data.label_dir=[a, b]", "data.label_dir"),
    ("train=3", "train"),
])
def test_wrong_type_names_dotted_key(override: str, key: str) -> None:
    with pytest.raises(ConfigError) as info:
        resolve(EmotionConfig, {}, override)
    assert str(info.value).startswith(f"{key}: ") or f"{key!r}" in str(info.value)


def test_wrong_type_in_file_layer_names_dotted_key() -> None:
    with pytest.raises(ConfigError, match=r"^train\.lr: expected a number, got 'fast'"):
        resolve(EmotionConfig, {"train": {"lr": "fast"}})
    with pytest.raises(ConfigError, match=r"^train\.select_metric: 'bogus' is not one of"):
        resolve(EmotionConfig, {"train": {"select_metric": "bogus"}})
    with pytest.raises(ConfigError, match=r"^data: expected a mapping"):
        resolve(EmotionConfig, {"data": "/path"})


@pytest.mark.parametrize("override", ["train.epochs", "=3", "train.epochs=3,,lr", " = "])
def test_malformed_override(override: str) -> None:
    with pytest.raises(ConfigError, match="not of the form key=value"):
        resolve(EmotionConfig, {}, override)


def test_config_error_is_user_error() -> None:
    assert issubclass(ConfigError, UserError) and issubclass(ConfigError, ValueError)


@pytest.mark.parametrize("value", ["no", "on", "1e5"])
def test_string_field_keeps_text_or_refuses(value: str) -> None:
    try:
        cfg = resolve(EmotionConfig, {}, f"data.corpus={value}")
    except ConfigError:
        return
    assert cfg.data.corpus == value


@pytest.mark.parametrize("module", [config_module, registry_module], ids=["config", "registry"])
def test_module_doctests(module) -> None:
    result = doctest.testmod(module)
    assert result.failed == 0 and result.attempted > 0


# --------------------------------------------------------------------------- YAML files


def test_load_yaml(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("train:\n  epochs: 3\n  lr: 1.0e-3\n")
    assert load_yaml(path) == {"train": {"epochs": 3, "lr": 0.001}}
    path.write_text("")
    assert load_yaml(path) == {}
    path.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="mapping at the top level"):
        load_yaml(path)
    with pytest.raises(ConfigError, match="does not exist"):
        load_yaml(tmp_path / "missing.yaml")


def _python_tag_yaml(tmp_path: Path) -> tuple[Path, Path]:
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.yaml"
    path.write_text(f'train: !!python/object/apply:os.system ["touch {marker}"]\n'
                    f'data: !!python/object/apply:os.system ["touch {marker}"]\n')
    return path, marker


def test_yaml_python_tag_is_refused_by_load_yaml(tmp_path: Path) -> None:
    path, marker = _python_tag_yaml(tmp_path)
    with pytest.raises((ConfigError, yaml.YAMLError)):
        load_yaml(path)
    assert not marker.exists()


# --------------------------------------------------------------------------- command line


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture):
    """Run ``main(argv)`` in tmp_path; return (exit code, stdout, stderr). Logging is restored."""
    monkeypatch.chdir(tmp_path)
    saved = (list(LOG.handlers), LOG.level, LOG.propagate)
    capsys.readouterr()

    def run(*argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    yield run
    for handler in list(LOG.handlers):
        LOG.removeHandler(handler)
        if handler not in saved[0]:
            handler.close()
    for handler in saved[0]:
        LOG.addHandler(handler)
    LOG.setLevel(saved[1])
    LOG.propagate = saved[2]
    assert not (tmp_path / "results").exists() or (tmp_path / "results").is_dir()


def _exp(tmp_path: Path) -> str:
    return str(tmp_path / "exp")


def test_cli_unknown_upstream(cli, tmp_path: Path) -> None:
    code, out, err = cli("-u", "fbank_nocmvn", "-d", "emotion", "-p", _exp(tmp_path))
    assert code == 2
    assert err.startswith("error: unknown upstream 'fbank_nocmvn'")
    assert "did you mean" in err and "fbank_no_cmvn" in err
    assert "Traceback" not in err
    assert not (tmp_path / "exp").exists()


def test_cli_unknown_task(cli, tmp_path: Path) -> None:
    code, _, err = cli("-u", "fbank_no_cmvn", "-d", "emotoin", "-p", _exp(tmp_path))
    assert code == 2
    assert err.startswith("error: unknown task 'emotoin'") and "did you mean: emotion" in err


def test_cli_missing_task_and_upstream(cli, tmp_path: Path) -> None:
    code, _, err = cli("-u", "fbank_no_cmvn", "-p", _exp(tmp_path))
    assert code == 2 and err.startswith("error: -d/--downstream is required")
    code, _, err = cli("-d", "emotion", "-p", _exp(tmp_path))
    assert code == 2 and err.startswith("error: -u/--upstream is required")


def test_cli_unknown_override_key(cli, tmp_path: Path) -> None:
    code, _, err = cli("-u", "fbank_no_cmvn", "-d", "emotion", "-o", "train.epoch=3",
                       "-p", _exp(tmp_path))
    assert code == 2
    assert err.startswith("error: unknown config key 'train.epoch'")
    assert "did you mean: train.epochs" in err
    assert not (tmp_path / "exp").exists()  # refused before the folder is made


def test_cli_bad_override_type(cli, tmp_path: Path) -> None:
    code, _, err = cli("-u", "fbank_no_cmvn", "-d", "emotion", "-o", "train.epochs=abc",
                       "-p", _exp(tmp_path))
    assert code == 2 and err.startswith("error: train.epochs: expected an integer")


def test_cli_missing_data_paths(cli, tmp_path: Path) -> None:
    code, _, err = cli("-u", "fbank_no_cmvn", "-d", "emotion", "-o", "train.epochs=1",
                       "-p", _exp(tmp_path))
    assert code == 2
    assert "error: data.label_dir is not set" in err
    assert "Traceback" not in err
    assert not (tmp_path / "results").exists()


def test_cli_missing_epochs(cli, tmp_path: Path) -> None:
    code, _, err = cli("-u", "fbank_no_cmvn", "-d", "emotion", "-o",
                       "data.label_dir=/nowhere,,data.audio_root=/nowhere", "-p", _exp(tmp_path))
    assert code == 2 and "error: train.epochs is not set" in err


def test_cli_config_file_unknown_key(cli, tmp_path: Path) -> None:
    path = tmp_path / "corpus.yaml"
    path.write_text("data:\n  fold: 1\ntrain:\n  epochs: 3\n  batchsize: 8\n")
    code, _, err = cli("-u", "fbank_no_cmvn", "-d", "emotion", "-c", str(path),
                       "-p", _exp(tmp_path))
    assert code == 2
    assert err.startswith("error: unknown config key 'train.batchsize'")
    assert "train.batch_size" in err


def test_cli_config_file_missing(cli, tmp_path: Path) -> None:
    code, _, err = cli("-u", "fbank_no_cmvn", "-d", "emotion", "-c", "nope.yaml",
                       "-p", _exp(tmp_path))
    assert code == 2 and "nope.yaml does not exist" in err


def test_cli_list_upstreams(cli) -> None:
    code, out, err = cli("--list-upstreams")
    assert code == 0
    rows = {line.split()[0]: line.split() for line in out.splitlines()[1:] if line.strip()}
    assert {"fbank", "fbank_no_cmvn"} <= set(rows)
    assert rows["fbank"][1] == "FBANK"
    assert rows["fbank_no_cmvn"][1] == "-"


def test_cli_list_tasks(cli) -> None:
    code, out, _ = cli("--list-tasks")
    assert code == 0 and out.split()[0] == "emotion"


def test_cli_evaluate_needs_past_exp(cli) -> None:
    code, out, err = cli("-m", "evaluate")
    assert code == 2
    assert err.startswith("error: -m evaluate needs -e")


def test_cli_evaluate_missing_checkpoint(cli, tmp_path: Path) -> None:
    code, _, err = cli("-m", "evaluate", "-e", str(tmp_path / "none.ckpt"))
    assert code == 2 and "none.ckpt does not exist" in err


def test_cli_prepare_needs_arguments(cli) -> None:
    code, _, err = cli("-m", "prepare", "--recipe", "emodb")
    assert code == 2 and "--source and --target" in err


def test_cli_yaml_python_tag_is_not_executed(cli, tmp_path: Path) -> None:
    path, marker = _python_tag_yaml(tmp_path)
    code, _, _ = cli("-u", "fbank_no_cmvn", "-d", "emotion", "-c", str(path),
                     "-p", _exp(tmp_path))
    assert code == 2
    assert not marker.exists()


@pytest.mark.parametrize("text", ["python-tag", "train: [epochs: 3\n"], ids=["python-tag", "syntax"])
def test_cli_bad_yaml_file_is_a_user_error(cli, tmp_path: Path, text: str) -> None:
    if text == "python-tag":
        path, marker = _python_tag_yaml(tmp_path)
    else:
        path, marker = tmp_path / "bad.yaml", tmp_path / "pwned"
        path.write_text(text)
    code, _, err = cli("-u", "fbank_no_cmvn", "-d", "emotion", "-c", str(path),
                       "-p", _exp(tmp_path))
    assert code == 2 and err.startswith("error: ") and str(path) in err
    assert not marker.exists()
