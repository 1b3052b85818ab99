"""torch's Adam and AdamW without importing the compiler stack.

In torch 2.11 the optimizers' ``step``, ``zero_grad``, ``add_param_group``, ``state_dict`` and
``load_state_dict`` are wrapped for ``torch.compile`` (``torch._disable_dynamo``, and ``step`` in
``_use_grad_for_differentiable``, which calls ``torch._dynamo.graph_break``). The wrappers
import ``torch._dynamo`` on the first call: about 1.5-1.9 s of CPU, half of a warm-cache training
run of a small head (docs/performance.md). In eager mode the wrappers do nothing else but set
grad mode around ``step`` (to the optimizer's ``differentiable`` flag), which :class:`Adam` and
:class:`AdamW` do too.

:class:`Adam` and :class:`AdamW` are torch's classes with those methods unwrapped: the same
arithmetic, state, ``state_dict`` format (checkpoints move freely between them and torch's own)
and hooks; learning-rate schedulers accept them (they are ``torch.optim.Optimizer``s). They are
for eager training only: under ``torch.compile`` use torch's classes. ``tests/test_optim.py``
checks that parameters and states stay bit-identical to torch's over many steps and that a
fresh process training with them never imports ``torch._dynamo``.
"""

from __future__ import annotations

import inspect

import torch

_Optimizer = torch.optim.Optimizer


class _Eager:
    """Optimizer methods without their ``torch.compile`` wrappers."""

    add_param_group = inspect.unwrap(_Optimizer.add_param_group)
    zero_grad = inspect.unwrap(_Optimizer.zero_grad)
    state_dict = inspect.unwrap(_Optimizer.state_dict)
    load_state_dict = inspect.unwrap(_Optimizer.load_state_dict)


def _eager_step(base: type[_Optimizer]):
    raw = inspect.unwrap(base.step)

    def step(self, closure=None):
        with torch.set_grad_enabled(self.defaults["differentiable"]):  # as torch's wrapper
            return raw(self, closure)

    step.__doc__ = f"``torch.optim.{base.__name__}.step`` without its compiler wrapper."
    return step


class Adam(_Eager, torch.optim.Adam):
    """``torch.optim.Adam`` for eager training, without importing the compiler."""

    step = _eager_step(torch.optim.Adam)


class AdamW(_Eager, torch.optim.AdamW):
    """``torch.optim.AdamW`` for eager training, without importing the compiler."""

    step = _eager_step(torch.optim.AdamW)


@torch.no_grad()
def clip_grad_norm(parameters: list[torch.Tensor], max_norm: float) -> torch.Tensor:
    """``torch.nn.utils.clip_grad_norm_(parameters, max_norm)`` (2-norm), bit for bit, with less
    Python per call: the same kernels (one ``_foreach_norm``, the norm of the norms, the clamped
    coefficient, one ``_foreach_mul_``) when every gradient is a plain tensor of one device and
    dtype; torch's own function otherwise. Returns the total norm before clipping.

    >>> p = torch.nn.Parameter(torch.ones(4)); p.grad = torch.full((4,), 3.0)
    >>> float(clip_grad_norm([p], 1.0)), [round(g, 6) for g in p.grad.tolist()]
    (6.0, [0.5, 0.5, 0.5, 0.5])
    """
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return torch.tensor(0.0)
    first = grads[0]
    if any(type(g) is not torch.Tensor or g.device != first.device or g.dtype != first.dtype
           for g in grads):
        return torch.nn.utils.clip_grad_norm_(parameters, max_norm)
    norms = torch._foreach_norm(grads, 2.0)
    total = torch.linalg.vector_norm(torch.stack(list(norms)), 2.0)
    torch._foreach_mul_(grads, torch.clamp(float(max_norm) / (total + 1e-6), max=1.0))
    return total
