"""Where a transformers upstream's files are, and what to do when they are not here.

A registered name (``whisper_large_v3``) is looked up, in this order, in ``-k FOLDER``, in
``$EMOBENCH_HF_MODELS/<name>`` or ``$EMOBENCH_HF_MODELS/<organisation>--<repository>``, in the
standard Hugging Face cache (``HF_HUB_CACHE``, by default ``~/.cache/huggingface/hub``), and
else downloaded from the hub. ``hf:<hub id>`` skips ``-k``; ``hf:<folder>`` is the folder.

A model folder needs ``config.json``, ``preprocessor_config.json`` (the feature extractor's
settings: Whisper's log-mel and w2v-BERT's fbank front ends cannot be guessed) and the weights.
When the weights are missing and cannot be downloaded (``HF_HUB_OFFLINE=1``, no network), the
error is one paragraph: which files, from where, where to put them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from emobench.core.errors import UserError
from emobench.upstream.hf_models import weights_present
from emobench.upstream.s3prl_compat import UpstreamUnavailable

ENV = "EMOBENCH_HF_MODELS"
NEEDED = ("config.json", "preprocessor_config.json")
WEIGHTS = "the weights (model.safetensors, or pytorch_model.bin where the repository has none)"


class HFModelMissing(UpstreamUnavailable):
    """A transformers upstream whose files are neither here nor downloadable."""


@dataclass(frozen=True)
class Source:
    location: str  # what from_pretrained gets: a local folder or a hub id
    label: str  # the upstream's recorded source: hf:<hub id>@<revision> or hf:<folder>
    local: bool


def offline() -> bool:
    """Whether the Hugging Face libraries are told not to use the network."""
    flags = (os.environ.get(k, "") for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))
    return any(f.strip().lower() in ("1", "true", "yes", "on") for f in flags)


def hub_cache() -> Path:
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


def check_folder(folder: Path, name: str, hub_id: str | None) -> None:
    """Refuse a model folder without its config, feature-extractor settings or weights."""
    if not folder.is_dir():
        raise HFModelMissing(f"upstream {name}: {folder} is not a folder (a transformers model "
                        "folder, as save_pretrained or `hf download` writes it)")
    missing = [f for f in NEEDED if not (folder / f).is_file()]
    if not weights_present(folder):
        missing.append(WEIGHTS)
    if missing:
        where = f" from https://huggingface.co/{hub_id}" if hub_id else ""
        raise HFModelMissing(
            f"upstream {name}: the model folder {folder} lacks {', '.join(missing)}. Download "
            f"{'them' if len(missing) > 1 else 'it'}{where} into that folder "
            "(preprocessor_config.json holds the feature extractor's settings: Whisper's "
            "log-mel and w2v-BERT's fbank front ends need it)")


def locate(name: str, hub_id: str | None, checkpoint: str | None) -> Source:
    """The folder or hub id to load upstream ``name`` from (module docstring)."""
    if checkpoint:
        folder = Path(checkpoint).expanduser().absolute()
        check_folder(folder, name, hub_id)
        return Source(str(folder), f"hf:{folder}", True)
    if hub_id is None:
        raise UserError(f"upstream {name}: no hub id and no model folder")
    shelf = os.environ.get(ENV)
    if shelf:
        for sub in (name, hub_id.replace("/", "--")):
            if (Path(shelf) / sub).is_dir():
                folder = (Path(shelf) / sub).absolute()
                check_folder(folder, name, hub_id)
                return Source(str(folder), f"hf:{folder}", True)
    snapshot = cached_snapshot(hub_id)
    if snapshot is not None and weights_present(snapshot):
        check_folder(snapshot, name, hub_id)
        return Source(str(snapshot), f"hf:{hub_id}@{snapshot.name}", True)
    if offline():
        raise missing(name, hub_id, "HF_HUB_OFFLINE is set")
    unreachable = hub_unreachable()
    if unreachable:
        raise missing(name, hub_id, unreachable)
    return Source(hub_id, f"hf:{hub_id}", False)


def hub_unreachable(timeout: float = 5.0) -> str | None:
    """Why the hub cannot be reached (a quick TCP connection to its endpoint), or None.

    Not probed behind a proxy (HTTPS_PROXY / ALL_PROXY), where only the proxy connects out: the
    download itself then reports a failure."""
    import socket
    from urllib.parse import urlparse

    from huggingface_hub import constants

    if any(os.environ.get(k) for k in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")):
        return None
    url = urlparse(constants.ENDPOINT)
    host, port = url.hostname or "huggingface.co", url.port or (443 if url.scheme == "https"
                                                                  else 80)
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as exc:
        return f"{host}:{port} not reachable: {exc}"
    return None


def cached_snapshot(hub_id: str) -> Path | None:
    """The cached snapshot folder of ``hub_id``'s main revision, if its config is cached."""
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(hub_id, "config.json")
    return Path(found).parent if isinstance(found, str) else None


def missing(name: str, hub_id: str, why: str) -> HFModelMissing:
    """The one-paragraph instruction for a model that is neither here nor downloadable."""
    cache = hub_cache()
    org_repo = hub_id.replace("/", "--")
    by_name = name.startswith("hf:")
    folder_hint = ("or put the files in one folder and use -u hf:FOLDER" if by_name else
                   f"or put the files in one folder and pass it with -k FOLDER, or put that "
                   f"folder at ${ENV}/{name} (or ${ENV}/{org_repo}) and set the environment "
                   f"variable {ENV}")
    return HFModelMissing(
        f"upstream {name}: the Hugging Face model {hub_id} is not on this machine and cannot "
        f"be downloaded ({why}). On a machine with network access, download config.json, "
        f"preprocessor_config.json and {WEIGHTS} from https://huggingface.co/{hub_id}/tree/main"
        f" (e.g. `hf download {hub_id} config.json preprocessor_config.json "
        f"model.safetensors`), then copy that machine's cache folder models--{org_repo} into "
        f"{cache} here (the standard Hugging Face cache, HF_HUB_CACHE), {folder_hint}.")
