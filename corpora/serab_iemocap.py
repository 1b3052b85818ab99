"""IEMOCAP 4-class (SERAB's IEM4) from the release's own label files.

The utterance list and labels are the lines of ``Session<k>/dialog/EmoEvaluation/<dialog>.txt``
(``IEMOCAP_full_release/`` as distributed): one line per utterance,
``[start - end] <TAB> <utterance> <TAB> <label> <TAB> [valence, activation, dominance]``, where
the label is the annotators' majority category (``ang hap exc sad neu fru sur fea dis oth
xxx``). The four classes, as usual since Busso et al.'s baselines: angry (ang), happy (hap **and
exc: excited is merged into happy**), sad (sad), neutral (neu); every other label is excluded and
counted per label. The audio of an utterance is
``Session<k>/sentences/wav/<dialog>/<utterance>.wav`` (its existence is checked, nothing is read).

Speaker = session + the sex letter of the utterance's last field (``Ses01F_impro01_M000`` is the
male actor of session 1: ``Ses01M``); the dialog prefix's letter says who wore the motion-capture
markers, not who speaks. The split unit is the session (a dyad), so both actors of a session
and their shared dialogs go to one split: 5 sessions split 60/20/20 = 3/1/1 sessions =
6/2/2 speakers. (SERAB's builder groups by ``Ses01F``-style dialog prefixes, which mixes the two
actors of a session across groups; not copied.)
"""

from __future__ import annotations

import re
from pathlib import Path

from emobench.corpora.serab import CorpusSpec, Item, Scan, is_apple_double, nfc_path

DIALOG_FILE = re.compile(r"Ses0(?P<session>[1-5])[FM]_(?:impro|script)[0-9a-z_]*\.txt")
LINE = re.compile(r"\[(?P<start>[0-9.]+) - (?P<end>[0-9.]+)\]\t(?P<utterance>\S+)\t"
                  r"(?P<label>\S+)\t\[[^\]]*\]")
UTTERANCE = re.compile(r"Ses0(?P<session>[1-5])[FM]_(?:impro|script)[0-9a-z_]*_"
                       r"(?P<sex>[FM])[0-9A-Z]{3}")
LABELS = ("ang", "hap", "exc", "sad", "neu", "fru", "sur", "fea", "dis", "oth", "xxx")
FOUR = {"ang": "angry", "hap": "happy", "exc": "happy", "sad": "sad", "neu": "neutral"}
SEX = {"F": "Female", "M": "Male"}


def read_dialog(path: Path, rel: str, root: Path, scan: Scan) -> None:
    """Add one EmoEvaluation file's utterances (or problems) to ``scan``."""
    dialog = path.stem
    session = DIALOG_FILE.fullmatch(path.name).group("session")
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    for number, line in enumerate(lines, start=1):
        if not line.startswith("["):
            continue
        match = LINE.fullmatch(line.rstrip())
        if match is None:
            scan.problems.append(f"{rel}:{number}: not an EmoEvaluation line "
                                 "('[start - end]<TAB>utterance<TAB>label<TAB>[v, a, d]')")
            continue
        utterance, label = match.group("utterance"), match.group("label")
        name = UTTERANCE.fullmatch(utterance)
        if name is None or not utterance.startswith(dialog + "_") \
                or name.group("session") != session:
            scan.problems.append(f"{rel}:{number}: utterance {utterance!r} is not an utterance "
                                 f"of dialog {dialog} (Ses0<k><F|M>_<dialog>_<F|M><nnn>)")
            continue
        if label not in LABELS:
            scan.problems.append(f"{rel}:{number}: {utterance}: unknown label {label!r} "
                                 f"(IEMOCAP's labels: {' '.join(LABELS)})")
            continue
        audio = f"Session{session}/sentences/wav/{dialog}/{utterance}.wav"
        if label not in FOUR:
            scan.excluded.setdefault(f"label {label!r}: not one of the four classes",
                                     []).append(audio)
            continue
        if not (root / audio).is_file():
            scan.problems.append(f"{rel}:{number}: {utterance}: audio {audio} is missing")
            continue
        sex = name.group("sex")
        scan.items.append(Item(audio, f"Ses0{session}{sex}", FOUR[label], f"Ses0{session}",
                               SEX[sex]))


def scan_iemocap(spec: CorpusSpec, root: Path) -> Scan:
    """Every file in ``Session<k>/dialog/EmoEvaluation/`` must be a dialog's label file."""
    scan = Scan()
    for path in sorted(root.glob("Session*/dialog/EmoEvaluation/*")):
        rel = nfc_path(path, root)
        if not path.is_file():
            continue  # Categorical/, Attribute/, Self-evaluation/: per-rater files, not read
        if is_apple_double(rel):
            scan.skipped["macOS metadata (._*, __MACOSX/)"] += 1
            continue
        match = DIALOG_FILE.fullmatch(path.name)
        if match is None or path.parts[-4] != f"Session{match.group('session')}":
            scan.unmatched.append(rel)
            continue
        read_dialog(path, rel, root, scan)
    if not scan.items and not scan.unmatched and not scan.problems:
        scan.problems.append("no Session<k>/dialog/EmoEvaluation/<dialog>.txt label file found "
                             "(expected the IEMOCAP_full_release folder)")
    return scan


IEMOCAP4 = CorpusSpec(
    name="iemocap4", title="IEMOCAP (4 classes)",
    naming="Session<k>/dialog/EmoEvaluation/Ses0<k><F|M>_<impro|script>...txt label files; "
           "audio Session<k>/sentences/wav/<dialog>/<utterance>.wav",
    patterns=(), emotions=dict(FOUR), classes=("angry", "happy", "sad", "neutral"),
    utterances=5531, speakers=10, audio_dir="IEMOCAP_full_release",
    unit=None, scan=scan_iemocap, label_source="annotators' majority label; excited merged "
                                              "into happy")
