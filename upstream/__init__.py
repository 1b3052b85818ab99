"""Frozen upstream models and the layer-weighting featurizer.

``build_upstream(name)`` looks ``name`` up in :data:`emobench.upstream.registry.UPSTREAMS`
(canonical s3prl names, EMO-SUPERB paper names and short aliases) and imports only that
upstream's module. The names below load on first use (PEP 562), so that reading the registry
(``--list-upstreams``) does not import torch.
"""

from __future__ import annotations

import importlib

_EXPORTS = {"FrozenUpstream": "base", "UpstreamInfo": "info", "Featurizer": "featurizer",
            "UPSTREAMS": "registry", "build_upstream": "registry", "upstream_info": "registry",
            "make_tiny": "registry"}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    globals()[name] = value
    return value
