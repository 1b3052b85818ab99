"""The transcript of every row of a multitask table (MSP-Podcast's layout, docs/text.md).

``data.transcript_dir`` holds ``<stem>.txt`` for every utterance, ``<stem>`` being the audio
file's name without its extension (``Audios/MSP-PODCAST_0002_0033.wav`` ->
``MSP-PODCAST_0002_0033.txt``); one UTF-8 transcript per file, leading and trailing white space
removed. A file that is absent or holds only white space is missing: with
``data.missing_transcripts: error`` (the default) that is an error naming the files; with
``speech_only`` those rows get no text (the model's text input for them is a zero vector and a
missing flag of 1) and the count per split is recorded in scores.json.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from emobench.core.config import ConfigError
from emobench.core.errors import UserError

LISTED = 5  # missing files named in the error


@dataclass(frozen=True)
class Transcripts:
    """One transcript per row ("" where missing)."""

    folder: Path
    texts: list[str]
    missing: np.ndarray  # (N,) bool: absent or empty file
    empty: int  # of the missing: files holding only white space

    def counts(self, splits: np.ndarray) -> dict[str, int]:
        """Missing transcripts per split (and in all)."""
        out = {s: int((self.missing & (splits == s)).sum()) for s in ("train", "val", "test")}
        return out | {"total": int(self.missing.sum())}


def transcript_files(folder: Path, audio: Sequence[Path]) -> list[Path]:
    """``<folder>/<audio stem>.txt`` per row; two rows with the same stem are an error.

    >>> [p.name for p in transcript_files(Path("t"), [Path("a/x.wav"), Path("b/y.flac")])]
    ['x.txt', 'y.txt']
    """
    stems = [Path(p).stem for p in audio]
    twice = [s for s, n in Counter(stems).items() if n > 1]
    if twice:
        raise ConfigError(f"data.transcript_dir: transcripts are found by the audio file's name "
                          f"without extension, and {len(twice)} name(s) occur twice in the "
                          f"table ({', '.join(sorted(twice)[:LISTED])}): rename the audio files "
                          "so that every name is unique")
    return [folder / f"{s}.txt" for s in stems]


def read_transcripts(folder: str | Path | None, audio: Sequence[Path],
                     policy: str = "error") -> Transcripts:
    """The transcript of every audio file; missing ones refused or marked (``policy``)."""
    if folder is None:
        raise ConfigError("model.text.upstream is set but data.transcript_dir is not: give the "
                          "folder of <audio file name>.txt transcripts (docs/text.md)")
    folder = Path(folder)
    if not folder.is_dir():
        raise ConfigError(f"data.transcript_dir {folder} is not a folder")
    if policy not in ("error", "speech_only"):
        raise ConfigError(f"data.missing_transcripts {policy!r}: error or speech_only")
    texts: list[str] = []
    absent: list[str] = []
    empty: list[str] = []
    for path in transcript_files(folder, audio):
        text = ""
        if path.is_file():
            try:
                text = path.read_bytes().decode("utf-8").strip()
            except UnicodeDecodeError as exc:
                raise UserError(f"{path}: not UTF-8 text (byte {exc.start}: {exc.reason})") \
                    from None
            if not text:
                empty.append(path.name)
        else:
            absent.append(path.name)
        texts.append(text)
    flags = np.array([not t for t in texts], dtype=bool)
    if flags.any() and policy == "error":
        which = "; ".join(_listed(n, w) for n, w in ((absent, "absent"), (empty, "empty")) if n)
        raise ConfigError(
            f"data.transcript_dir {folder}: {int(flags.sum())} of {len(texts)} transcripts are "
            f"missing: {which}. "
            "Add them, or set data.missing_transcripts=speech_only to give those rows no text "
            "input (counted in scores.json)")
    return Transcripts(folder, texts, flags, len(empty))


def _listed(names: list[str], what: str) -> str:
    """``3 absent (a.txt, b.txt, c.txt)``, the first few names."""
    more = ", ..." if len(names) > LISTED else ""
    return f"{len(names)} {what} ({', '.join(names[:LISTED])}{more})"
