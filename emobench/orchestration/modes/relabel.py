"""``-m relabel -c configs/relabel/<name>.yaml``: EMO-SUPERB's LLM relabelling (docs/relabel.md);
``-m relabel_gain -p <results>``: the with/without table (the paper's Table 3)."""

from __future__ import annotations

import json
from pathlib import Path

from emobench.core.config import ConfigError, absolute_paths, load_yaml, resolve
from emobench.core.experiment import setup_logging
from emobench.orchestration import runs
from emobench.orchestration.request import Request


def run(request: Request) -> int:
    from emobench.corpora.relabel import job
    from emobench.corpora.relabel.config import RelabelConfig

    if not request.config:
        raise ConfigError("-m relabel needs -c <relabel config> (e.g. "
                          "configs/relabel/podcast_p.yaml); docs/relabel.md")
    setup_logging(None, request.verbose)
    config = resolve(RelabelConfig, load_yaml(request.config), request.override)
    report = job.run(absolute_paths(config, Path.cwd()))
    counts = report["counts"]
    print(f"relabelled {report['accepted']} of {report['with_description']} utterances with "
          f"a typed description; {report['fallback']} fell back to the reference "
          f"(requests {report['requests']}, cache hits {report.get('cache_hits', 0)})")
    print("repairs and rejections: " + json.dumps(counts))
    for name, fold in report["folds"].items():
        print(f"{name}: {fold['relabelled']} rows relabelled, majority class changed in "
              f"{fold['majority_changed']}")
    for path in report["written"]:
        print(path)
    return 0


def gain(request: Request) -> int:
    from emobench.orchestration import relabel_gain

    setup_logging(None, request.verbose)
    root = Path(request.expdir) if request.expdir else runs.RESULTS / "downstream"
    text, written = relabel_gain.write(root, root / "report")
    print(text)
    for path in written:
        print(path)
    return 0
