"""kill -9 at every phase of a run; the rerun (``-a``) reaches the uninterrupted run's results.

Training phases here (a real SIGKILL of a child process at a chosen moment, tiny corpus,
fbank_no_cmvn): mid-epoch, during the write of last.ckpt, during a validation, during the final
test evaluation. The other phases have their own tests: extraction
(test_feature_cache.py::test_killed_extraction_resumes_to_the_same_cache_and_shards_partition_it)
and the sweep (test_sweep.py::test_a_killed_job_is_retried_and_resumes). docs/robustness.md.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from emobench.orchestration.cli import main
from helpers_labels import write_corpus

# The child runs the command line with one function patched to SIGKILL the process at the
# chosen moment (argv[1]); the kill is real: no cleanup, no atomic-write rollback.
DRIVER = textwrap.dedent('''
    import io, os, signal, sys
    import torch
    phase, argv = sys.argv[1], sys.argv[2:]
    calls = {"n": 0}

    def die():
        sys.stderr.flush()
        os.kill(os.getpid(), signal.SIGKILL)

    if phase == "mid_epoch":  # the 4th optimiser step of 2 per epoch: inside epoch 2
        from emobench.core import optim  # the trainer clips through optim.clip_grad_norm
        clip = optim.clip_grad_norm
        def clip_then_die(*a, **k):
            calls["n"] += 1
            if calls["n"] == 4:
                die()
            return clip(*a, **k)
        optim.clip_grad_norm = clip_then_die
    elif phase == "checkpoint_write":  # epoch 2's last.ckpt: half its bytes, then the kill
        save = torch.save
        def save_half(obj, f, *a, **k):
            if isinstance(obj, dict) and "optimizer" in obj:  # last.ckpt (resumable state)
                calls["n"] += 1
                if calls["n"] == 2:
                    buffer = io.BytesIO()
                    save(obj, buffer, *a, **k)
                    f.write(buffer.getvalue()[: len(buffer.getvalue()) // 2])
                    f.flush()
                    os.fsync(f.fileno())
                    die()
            return save(obj, f, *a, **k)
        torch.save = save_half
    elif phase in ("validation", "final_evaluation"):
        import emobench.downstream.emotion.task as task
        name = "predict" if phase == "validation" else "evaluate_checkpoint"
        original = getattr(task, name)
        def then_die(*a, **k):
            calls["n"] += 1
            if calls["n"] == (2 if phase == "validation" else 1):
                die()
            return original(*a, **k)
        setattr(task, name, then_die)
    from emobench.orchestration.cli import main
    sys.exit(main(argv))
''')

PHASES = ("mid_epoch", "checkpoint_write", "validation", "final_evaluation")


def args(corpus, name: str) -> list[str]:
    return ["-m", "train", "-u", "fbank_no_cmvn", "-d", "emotion", "-n", name, "--device", "cpu",
            "-o", f"data.label_dir={corpus.label_dir},,data.audio_root={corpus.audio_root},,"
            "train.epochs=3,,train.batch_size=1,,train.select_metric=dev_macro_f1,,"
            "train.save_every_epochs=1"]  # a last.ckpt (and dev-best) write every epoch


@pytest.fixture(scope="module")
def matrix(tmp_path_factory):
    work = tmp_path_factory.mktemp("kill")
    corpus = write_corpus(work)
    driver = work / "driver.py"
    driver.write_text(DRIVER)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    codes = {}
    for phase in PHASES:  # the killed runs, in parallel
        codes[phase] = subprocess.Popen([sys.executable, str(driver), phase,
                                         *args(corpus, phase)], cwd=work, env=env,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(work)
        assert main(args(corpus, "reference")) == 0
        killed = {phase: (proc.wait(), proc.stderr.read().decode()) for phase, proc in
                  codes.items()}
        partial = {phase: sorted(p.name for p in (work / "results/downstream" / phase).iterdir())
                   for phase in PHASES}
        reruns = {phase: main([*args(corpus, phase), "-a"]) for phase in PHASES}
    return work, killed, partial, reruns


def _same_results(a: Path, b: Path) -> None:
    import json

    first, second = (json.loads((p / "scores.json").read_text()) for p in (a, b))
    assert first["metrics"] == second["metrics"]
    assert (a / "predictions.csv").read_bytes() == (b / "predictions.csv").read_bytes()
    for name in ("dev-best.ckpt", "last.ckpt"):  # the selected and the final weights
        first, second = (torch.load(p / name, weights_only=True)["model"] for p in (a, b))
        assert first.keys() == second.keys()
        assert all(torch.equal(first[k], second[k]) for k in first), name


@pytest.mark.slow
@pytest.mark.parametrize("phase", PHASES)
def test_killed_run_resumes_to_the_uninterrupted_results(matrix, phase):
    work, killed, partial, reruns = matrix
    code, err = killed[phase]
    assert code == -signal.SIGKILL, err[-2000:]  # really killed at that phase
    assert "scores.json" not in partial[phase]
    if phase == "checkpoint_write":  # the half-written file is a temporary, never last.ckpt
        assert any(n.startswith(".last.ckpt.") and n.endswith(".tmp") for n in partial[phase])
    assert reruns[phase] == 0
    folder = work / "results/downstream" / phase
    _same_results(work / "results/downstream/reference", folder)
    assert not list(folder.glob(".*.tmp"))  # the rerun removed the interrupted write
