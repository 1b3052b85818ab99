"""emobench.core.optim: torch's Adam/AdamW without the compiler import, bit for bit."""

from __future__ import annotations

import copy
import subprocess
import sys

import pytest
import torch

from emobench.core import optim

PAIRS = [(optim.Adam, torch.optim.Adam, {}), (optim.Adam, torch.optim.Adam, {"weight_decay": 0.1}),
         (optim.AdamW, torch.optim.AdamW, {}),
         (optim.AdamW, torch.optim.AdamW, {"weight_decay": 0.01, "amsgrad": True})]


def model(seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(7, 5), torch.nn.Tanh(), torch.nn.Linear(5, 3))


def train(net, optimizer, steps: int, seed: int = 0, schedule: bool = True) -> None:
    if schedule:
        schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: 1.0 / (1 + 0.1 * s))
    data = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        x, y = torch.randn(8, 7, generator=data), torch.randn(8, 3, generator=data)
        loss = torch.nn.functional.mse_loss(net(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 0.5)
        optimizer.step()
        if schedule:
            schedule.step()


@pytest.mark.parametrize("ours, theirs, kwargs", PAIRS)
def test_bit_identical_to_torch(ours, theirs, kwargs):
    a, b = model(1), model(1)
    opt_a, opt_b = ours(a.parameters(), lr=1e-2, **kwargs), theirs(b.parameters(), lr=1e-2,
                                                                      **kwargs)
    train(a, opt_a, 60)
    train(b, opt_b, 60)
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)
    sa, sb = opt_a.state_dict(), opt_b.state_dict()
    assert sa["param_groups"] == sb["param_groups"]
    for k in sb["state"]:
        for name, value in sb["state"][k].items():
            assert torch.equal(sa["state"][k][name], value), name


@pytest.mark.parametrize("ours, theirs, kwargs", PAIRS)
def test_state_dict_moves_between_implementations(ours, theirs, kwargs):
    """A checkpoint written with torch's optimizer resumes in ours and the other way round."""
    a, b = model(2), model(2)
    opt_a, opt_b = theirs(a.parameters(), lr=1e-2, **kwargs), ours(b.parameters(), lr=1e-2,
                                                                     **kwargs)
    train(a, opt_a, 10)
    b.load_state_dict(a.state_dict())
    opt_b.load_state_dict(copy.deepcopy(opt_a.state_dict()))  # as from a file: no aliasing
    train(a, opt_a, 10, seed=3, schedule=False)
    train(b, opt_b, 10, seed=3, schedule=False)
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)


def test_step_keeps_grad_mode_and_closure():
    net = model(3)
    opt = optim.AdamW(net.parameters(), lr=1e-3)

    def closure():
        opt.zero_grad()
        loss = net(torch.ones(2, 7)).sum()
        loss.backward()
        return loss

    loss = opt.step(closure)
    assert isinstance(loss, torch.Tensor) and torch.is_grad_enabled()


def test_training_does_not_import_the_compiler():
    code = ("import sys, torch\n"
            "from emobench.core import optim\n"
            "net = torch.nn.Linear(4, 2)\n"
            "opt = optim.AdamW(net.parameters(), lr=1e-3)\n"
            "sch = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0)\n"
            "for _ in range(3):\n"
            "    opt.zero_grad(); net(torch.ones(3, 4)).sum().backward()\n"
            "    torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0); opt.step(); sch.step()\n"
            "opt.load_state_dict(opt.state_dict())\n"
            "print('torch._dynamo' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


@pytest.mark.parametrize("scale", [1e-3, 1.0, 50.0])
def test_clip_grad_norm_is_torchs(scale):
    a, b = model(4), model(4)
    x = torch.randn(6, 7, generator=torch.Generator().manual_seed(5))
    for net in (a, b):
        (net(x) * scale).pow(2).sum().backward()
    ours = optim.clip_grad_norm(list(a.parameters()), 0.7)
    theirs = torch.nn.utils.clip_grad_norm_(b.parameters(), 0.7)
    assert torch.equal(ours, theirs)
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa.grad, pb.grad)


def test_clip_grad_norm_mixed_dtypes_falls_back_to_torch():
    p, q = torch.nn.Parameter(torch.ones(3)), torch.nn.Parameter(torch.ones(2, dtype=torch.float64))
    p.grad, q.grad = torch.full((3,), 2.0), torch.full((2,), 2.0, dtype=torch.float64)
    p2, q2 = torch.nn.Parameter(torch.ones(3)), torch.nn.Parameter(torch.ones(2, dtype=torch.float64))
    p2.grad, q2.grad = p.grad.clone(), q.grad.clone()
    assert torch.equal(optim.clip_grad_norm([p, q], 1.0),
                       torch.nn.utils.clip_grad_norm_([p2, q2], 1.0))
    assert torch.equal(p.grad, p2.grad) and torch.equal(q.grad, q2.grad)
