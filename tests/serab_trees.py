"""Synthetic corpus trees that follow each SERAB corpus's real layout and naming rules.

Files are empty placeholders (the recipes read names, not audio). ``full=True`` builds every
name the corpus's design has (as many files as SERAB's Table 1 counts, where the design is a full
grid); otherwise a few speakers with a few files each. Each builder returns
``(source, {relative path: (speaker, class)})`` for the utterances it made.
"""

from __future__ import annotations

from itertools import product
from pathlib import Path


def touch(root: Path, rel: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")


def build(root: Path, files: dict[str, tuple[str, str]], extra: tuple[str, ...] = ()):
    for rel in (*files, *extra):
        touch(root, rel)
    return root, files


AESDD_FOLDERS = {"a": ("anger", "angry"), "d": ("disgust", "disgust"), "f": ("fear", "fear"),
                 "h": ("happiness", "happy"), "s": ("sadness", "sad")}


def aesdd(root: Path, full: bool = False):
    top = "Acted Emotional Speech Dynamic Database"
    speakers = range(1, 7) if full else range(1, 4)
    utterances = range(1, 21) if full else range(1, 3)
    files = {}
    for code, speaker, number in product(AESDD_FOLDERS, speakers, utterances):
        folder, label = AESDD_FOLDERS[code]
        files[f"{top}/{folder}/{code}{number:02d} ({speaker}).wav"] = (str(speaker), label)
    takes = ["a04 (6)b", "d11 (2)b", "f18 (5)b", "h07 (1)b", "s13 (4)b"] if full \
        else ["f02 (3)b"]
    for name in takes:
        folder, label = AESDD_FOLDERS[name[0]]
        files[f"{top}/{folder}/{name}.wav"] = (name.split("(")[1][0], label)
    bad = f"{top}/sadness/s05 (3).wav"  # the known unreadable file: excluded by rule
    files.pop(bad, None)
    return build(root, files, extra=(bad,))


CAFE_FOLDERS = {"C": ("Colère", "angry"), "D": ("Dégoût", "disgust"), "J": ("Joie", "happy"),
                "P": ("Peur", "fear"), "S": ("Surprise", "surprise"), "T": ("Tristesse", "sad")}


def cafe(root: Path, full: bool = False, neutral: bool = True):
    actors = range(1, 13) if full else range(1, 4)
    sentences = range(1, 7) if full else (1,)
    files = {}
    for code, actor, intensity, sentence in product(CAFE_FOLDERS, actors, (1, 2), sentences):
        folder, label = CAFE_FOLDERS[code]
        level = {1: "Faible", 2: "Fort"}[intensity]
        files[f"CaFE_48k/{folder}/{level}/{actor:02d}-{code}-{intensity}-{sentence}.wav"] = \
            (f"{actor:02d}", label)
    neutrals = {f"CaFE_48k/Neutre/{actor:02d}-N-{sentence}.wav": (f"{actor:02d}", "neutral")
                for actor, sentence in product(actors, sentences)} if neutral else {}
    build(root, files, extra=tuple(neutrals))
    return root, files, neutrals


def crema_d(root: Path):
    files = {}
    for actor, sentence, (code, label) in product(
            (1001, 1015, 1042, 1091), ("DFA", "IEO"),
            (("ANG", "angry"), ("NEU", "neutral"), ("SAD", "sad"))):
        level = "XX" if sentence == "DFA" else "HI"
        files[f"{actor}_{sentence}_{code}_{level}.wav"] = (str(actor), label)
    build(root / "AudioWAV", files)  # names are relative to the audio root, AudioWAV/
    return root, files


EMOVO_CODES = {"dis": "disgust", "gio": "happy", "neu": "neutral", "pau": "fear",
               "rab": "angry", "sor": "surprise", "tri": "sad"}
EMOVO_SENTENCES = ("b1", "b2", "b3", "d1", "d2", "l1", "l2", "l3", "l4", "n1", "n2", "n3",
                   "n4", "n5")


def emovo(root: Path, full: bool = False):
    speakers = ("f1", "f2", "f3", "m1", "m2", "m3") if full else ("f1", "m2", "m3")
    sentences = EMOVO_SENTENCES if full else ("b1", "n5")
    files = {f"EMOVO/{spk}/{code}-{spk}-{s}.wav": (spk, label)
             for spk, (code, label), s in product(speakers, EMOVO_CODES.items(), sentences)}
    return build(root, files, extra=("EMOVO/documents/EMOVO.pdf",))


RAVDESS_CODES = ("neutral", "calm", "happy", "sad", "angry", "fear", "disgust", "surprise")


def ravdess(root: Path, full: bool = False):
    actors = range(1, 25) if full else (1, 2, 17)
    files = {}
    for actor, emotion, intensity, statement, repetition in product(
            actors, range(1, 9), (1, 2), (1, 2), (1, 2)):
        if emotion == 1 and intensity == 2:
            continue  # neutral has no strong intensity
        name = f"03-01-{emotion:02d}-{intensity:02d}-{statement:02d}-{repetition:02d}-{actor:02d}"
        files[f"Audio_Speech_Actors_01-24/Actor_{actor:02d}/{name}.wav"] = \
            (f"{actor:02d}", RAVDESS_CODES[emotion - 1])
    return build(root, files)


SAVEE_CODES = {"a": "angry", "d": "disgust", "f": "fear", "h": "happy", "sa": "sad",
               "su": "surprise"}


def savee(root: Path, full: bool = False, flat: bool = False):
    speakers = ("DC", "JE", "JK", "KL") if full else ("DC", "JE", "KL")
    last = 15 if full else 2
    files = {}
    for spk in speakers:
        names = [(f"{c}{n:02d}", label) for (c, label), n in
                 product(SAVEE_CODES.items(), range(1, last + 1))]
        names += [(f"n{n:02d}", "neutral") for n in range(1, 2 * last + 1)]
        for name, label in names:
            rel = f"ALL/{spk}_{name}.wav" if flat else f"AudioData/{spk}/{name}.wav"
            files[rel] = (spk, label)
    return build(root, files, extra=("AudioData/Info.txt",))


SHEMO_CODES = {"A": "angry", "F": "fear", "H": "happy", "N": "neutral", "S": "sad",
               "W": "surprise"}


def shemo(root: Path):
    files = {}
    for spk, (code, label), n in product(("F01", "F02", "M01", "M12"), SHEMO_CODES.items(),
                                         (1, 2)):
        folder = "female" if spk[0] == "F" else "male"
        files[f"{folder}/{spk}{code}{n:02d}.wav"] = (spk, label)
    return build(root, files)


IEMOCAP_LINES = {  # per dialog: (utterance suffix, label)
    "impro01": [("F000", "neu"), ("M000", "exc"), ("F001", "fru"), ("M001", "ang")],
    "script01_1": [("F000", "hap"), ("M000", "sad"), ("F001", "xxx"), ("M001", "neu")],
}
FOUR = {"ang": "angry", "hap": "happy", "exc": "happy", "sad": "sad", "neu": "neutral"}


def iemocap(root: Path, sessions=(1, 2, 3, 4, 5)):
    """``IEMOCAP_full_release/`` with two dialogs per session (one per mocap actor)."""
    base = root / "IEMOCAP_full_release"
    files = {}
    for session in sessions:
        for lead, (dialog, lines) in zip("FM", IEMOCAP_LINES.items()):
            name = f"Ses0{session}{lead}_{dialog}"
            text = [f"% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]", ""]
            for k, (suffix, label) in enumerate(lines):
                utt = f"{name}_{suffix}"
                text += [f"[{k + 1.0:.4f} - {k + 1.5:.4f}]\t{utt}\t{label}\t[2.5000, 3.0000, "
                         "2.0000]", f"C-E1:\tNeutral;\t()", ""]
                rel = f"Session{session}/sentences/wav/{name}/{utt}.wav"
                touch(base, rel)
                if label in FOUR:
                    files[rel] = (f"Ses0{session}{suffix[0]}", FOUR[label])
            touch(base, f"Session{session}/dialog/EmoEvaluation/{name}.txt")
            (base / f"Session{session}/dialog/EmoEvaluation/{name}.txt").write_text(
                "\n".join(text) + "\n")
            touch(base, f"Session{session}/dialog/EmoEvaluation/Categorical/{name}_e1_cat.txt")
    return root, files
