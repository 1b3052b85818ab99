"""Frozen upstream models and the layer-weighting featurizer.

``build_upstream(name)`` looks ``name`` up in :data:`upstream.registry.UPSTREAMS` (canonical
s3prl names, EMO-SUPERB paper names and short aliases) and imports only that upstream's module.
"""

from upstream.base import FrozenUpstream, UpstreamInfo
from upstream.featurizer import Featurizer
from upstream.registry import UPSTREAMS, build_upstream, make_tiny, upstream_info

__all__ = ["FrozenUpstream", "UpstreamInfo", "Featurizer", "UPSTREAMS", "build_upstream",
           "upstream_info", "make_tiny"]
