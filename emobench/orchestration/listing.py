"""``--list-upstreams`` and ``--list-tasks``: the registered names (metadata only, no models)."""

from __future__ import annotations


def upstreams() -> None:
    from emobench.upstream.registry import UPSTREAMS, upstream_info

    rows = [("name", "aliases", "hidden", "dim", "frames/s", "params (M)", "description")]
    for name in UPSTREAMS.names():
        info = upstream_info(name)
        flag = f" [trained on {info.training_data_flag}]" if info.training_data_flag else ""
        rows.append((name, ", ".join(UPSTREAMS.aliases_of(name)) or "-",
                     str(info.hidden_states or "?"), str(info.dim or "?"),
                     f"{info.frame_rate:g}" if info.frame_rate else "utterance",
                     "?" if info.params_m is None else f"{info.params_m:g}",
                     info.description + flag))
    widths = [max(len(r[i]) for r in rows) for i in range(6)]
    for row in rows:
        print("  ".join(c.ljust(w) if i < 2 else c.rjust(w)
                        for i, (c, w) in enumerate(zip(row, widths))) + "  " + row[6])
    print("hf:<hub id or local folder>: any transformers checkpoint of the model types wav2vec2, "
          "hubert, wavlm, data2vec-audio, wav2vec2-bert, whisper (docs/upstreams.md)")


def tasks() -> None:
    from emobench.downstream import TASKS

    width = max(len(name) for name in TASKS.names()) + 2
    for name in TASKS.names():
        print(f"{name:<{width}}{TASKS.entry(name).meta.get('description', '')}")
