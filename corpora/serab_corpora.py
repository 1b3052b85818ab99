"""The nine SERAB corpora as declarative specs, and their recipes (``-m prepare --recipe
serab_<corpus>``). Layouts, naming rules and counts are documented in docs/serab_corpora.md.

Every naming rule is a regex matched in full against the file's path below the audio root
(``(?:.*/)?`` allows any folders above the corpus's own). Where the distribution's folders
repeat what the name says (EMOVO's speaker folder, RAVDESS's ``Actor_XX``, AESDD's and CaFE's
emotion folders), a backreference or a lookahead makes a file in the wrong folder match no rule.
Table 1 counts: SERAB (Scheidwasser-Clow et al. 2022), Table 1.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from emobench.corpora import partitions, serab
from emobench.corpora.emodb import CODES as EMODB_CODES
from emobench.corpora.serab import CorpusSpec
from emobench.corpora.serab_iemocap import IEMOCAP4
from emobench.corpora.serab_split import SERAB_SEED

ANY = r"(?:.*/)?"  # any folders above the corpus's own layout
SEX = {"f": "Female", "m": "Male", "F": "Female", "M": "Male"}


def odd_male(groups: dict[str, str]) -> str:
    """RAVDESS and CaFE: odd actor numbers are men, even numbers women.

    >>> odd_male({"speaker": "07"}), odd_male({"speaker": "12"})
    ('Male', 'Female')
    """
    return "Male" if int(groups["speaker"]) % 2 else "Female"


def emodb_sex(groups: dict[str, str]) -> str:
    return str(partitions.load("emodb")["units"][groups["speaker"]])


AESDD = CorpusSpec(
    name="aesdd", title="AESDD",
    naming="<emotion folder>/<a|d|f|h|s><utterance 01-20> (<speaker>)[take letter].wav, "
           "e.g. anger/a03 (4).wav, fear/f18 (5)b.wav",
    patterns=(ANY + r"(?:anger/(?=a)|disgust/(?=d)|fear/(?=f)|happiness/(?=h)|sadness/(?=s))"
              r"(?P<emotion>[adfhs])(?P<utterance>\d\d) \((?P<speaker>\d+)\)(?P<take>[a-z]?)"
              r"\.wav",),
    emotions={"a": "angry", "d": "disgust", "f": "fear", "h": "happy", "s": "sad"},
    classes=("angry", "disgust", "fear", "happy", "sad"),
    utterances=604, speakers=6,
    count_note="(604 = the 605 files of the distribution less sadness/s05 (3).wav.)",
    excluded={ANY + r"sadness/s05 \(3\)\.wav": "unreadable in the distribution (a WAV file "
              "without a 'data' chunk); SERAB's builder leaves it out"})

CAFE_NEUTRAL = ANY + r"Neutre/(?P<speaker>0[1-9]|1[0-2])-(?P<emotion>N)-(?P<sentence>[1-6])" \
                     r"\.(?:wav|aiff)"
CAFE = CorpusSpec(
    name="cafe", title="CaFE",
    naming="<Colère|Dégoût|Joie|Peur|Surprise|Tristesse>/<Faible|Fort>/AA-E-I-S.wav (actor "
           "01-12, emotion C D J P S T, intensity 1 Faible / 2 Fort, sentence 1-6), "
           "Neutre/AA-N-S.wav",
    patterns=(ANY + r"(?:Colère(?=/[^/]+/\d\d-C-)|Dégoût(?=/[^/]+/\d\d-D-)|"
              r"Joie(?=/[^/]+/\d\d-J-)|Peur(?=/[^/]+/\d\d-P-)|"
              r"Surprise(?=/[^/]+/\d\d-S-)|Tristesse(?=/[^/]+/\d\d-T-))/"
              r"(?:Faible/(?=\d\d-.-1-)|Fort/(?=\d\d-.-2-))"
              r"(?P<speaker>0[1-9]|1[0-2])-(?P<emotion>[CDJPST])-(?P<intensity>[12])-"
              r"(?P<sentence>[1-6])\.(?:wav|aiff)",),
    emotions={"C": "angry", "D": "disgust", "J": "happy", "P": "fear", "S": "surprise",
              "T": "sad", "N": "neutral"},
    classes=("angry", "disgust", "fear", "happy", "sad", "surprise"),
    utterances=864, speakers=12, extensions=(".wav", ".aiff"), gender=odd_male,
    count_note="(864 = the emotional files, Neutre/ excluded; with neutral=true: 936.)",
    excluded={CAFE_NEUTRAL: "neutral (Neutre/): Table 1's 864 = 12 actors x 6 emotions x 2 "
              "intensities x 6 sentences has no neutral file; neutral=true keeps them"})
CAFE_WITH_NEUTRAL = replace(CAFE, patterns=CAFE.patterns + (CAFE_NEUTRAL,), excluded={},
                            classes=CAFE.classes + ("neutral",), utterances=936,
                            count_note="(the full corpus with neutral=true: 936 files.)")

CREMA_D_SENTENCES = "DFA|IEO|IOM|ITH|ITS|IWL|IWW|MTI|TAI|TIE|TSI|WSI"
CREMA_D = CorpusSpec(
    name="crema_d", title="CREMA-D",
    naming="AudioWAV/<actor 1001-1091>_<sentence>_<ANG|DIS|FEA|HAP|NEU|SAD>_<LO|MD|HI|XX>.wav",
    patterns=(ANY + r"(?P<speaker>10(?:0[1-9]|[1-8]\d|9[01]))_(?P<sentence>"
              + CREMA_D_SENTENCES + r")_(?P<emotion>ANG|DIS|FEA|HAP|NEU|SAD)_"
              r"(?P<level>LO|MD|HI|XX)\.wav",),
    emotions={"ANG": "angry", "DIS": "disgust", "FEA": "fear", "HAP": "happy",
              "NEU": "neutral", "SAD": "sad"},
    classes=("angry", "sad", "disgust", "fear", "neutral", "happy"),  # corpora/crema_d.py's
    utterances=7442, speakers=91, fractions=(0.7, 0.1, 0.2), audio_dir="AudioWAV",
    count_note="(TFDS's CREMA-D builder, which SERAB used, leaves out 4 clips of "
               "summaryTable.csv it could not download: 1006_TIE_NEU_XX, 1013_WSI_DIS_XX, "
               "1017_IWW_FEA_XX, 1040_ITH_SAD_XX; a copy without them has 7438: pass "
               "expected_utterances=7438 to accept it.)")

EMODB = CorpusSpec(
    name="emodb", title="EmoDB",
    naming="wav/<speaker 03 08 09 10-16><text a01-b10><emotion W L E A F T N><version>.wav, "
           "e.g. 03a01Fa.wav",
    patterns=(ANY + r"(?P<speaker>03|08|09|1[0-6])(?P<text>[ab]\d\d)(?P<emotion>[WLEAFTN])"
              r"(?P<version>[a-z])\.wav",),
    emotions=dict(EMODB_CODES), classes=tuple(EMODB_CODES.values()),
    utterances=535, speakers=10, audio_dir="wav", gender=emodb_sex)

EMOVO = CorpusSpec(
    name="emovo", title="EMOVO",
    naming="<speaker f1-f3 m1-m3>/<dis|gio|neu|pau|rab|sor|tri>-<speaker>-<sentence b1-b3 "
           "d1-d2 l1-l4 n1-n5>.wav, e.g. f1/dis-f1-b1.wav",
    patterns=(ANY + r"(?P<speaker>[fm][123])/(?P<emotion>dis|gio|neu|pau|rab|sor|tri)-"
              r"(?P=speaker)-(?P<sentence>b[1-3]|d[12]|l[1-4]|n[1-5])\.wav",),
    emotions={"rab": "angry", "dis": "disgust", "pau": "fear", "gio": "happy",
              "neu": "neutral", "tri": "sad", "sor": "surprise"},
    classes=("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"),
    utterances=588, speakers=6, gender=lambda g: SEX[g["speaker"][0]])

RAVDESS = CorpusSpec(
    name="ravdess", title="RAVDESS",
    naming="Actor_NN/03-01-EE-II-SS-RR-NN.wav (audio-only speech: modality 03, channel 01; "
           "emotion 01-08, intensity 01/02 (neutral only 01), statement, repetition, actor "
           "01-24 as in the folder)",
    patterns=(ANY + r"Actor_(?P<speaker>0[1-9]|1\d|2[0-4])/03-01-(?!01-02)"
              r"(?P<emotion>0[1-8])-(?P<intensity>0[12])-(?P<statement>0[12])-"
              r"(?P<repetition>0[12])-(?P=speaker)\.wav",),
    emotions={"01": "neutral", "02": "calm", "03": "happy", "04": "sad", "05": "angry",
              "06": "fear", "07": "disgust", "08": "surprise"},
    classes=("neutral", "calm", "happy", "sad", "angry", "fear", "disgust", "surprise"),
    utterances=1440, speakers=24, gender=odd_male)

SAVEE_CODES = (r"(?P<emotion>a|d|f|h|sa|su)(?:0[1-9]|1[0-5])\.wav",  # 15 sentences each
               r"(?P<emotion>n)(?:0[1-9]|[12]\d|30)\.wav")  # neutral: 30 sentences
SAVEE = CorpusSpec(
    name="savee", title="SAVEE",
    naming="AudioData/<DC|JE|JK|KL>/<a|d|f|h|sa|su><01-15>.wav or n<01-30>.wav, or the "
           "flat copies' <speaker>_<code><nn>.wav (e.g. DC_a01.wav)",
    patterns=tuple(ANY + r"(?P<speaker>DC|JE|JK|KL)" + sep + code
                   for sep in ("/", "_") for code in SAVEE_CODES),
    emotions={"a": "angry", "d": "disgust", "f": "fear", "h": "happy", "n": "neutral",
              "sa": "sad", "su": "surprise"},
    classes=("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"),
    utterances=480, speakers=4, gender=lambda g: "Male")

SHEMO = CorpusSpec(
    name="shemo", title="ShEMO",
    naming="<female|male>/<F|M><speaker 2 digits><A|F|H|N|S|W><utterance>.wav, e.g. "
           "female/F01A01.wav (speaker = sex letter + number: F01 and M01 are two people)",
    patterns=(ANY + r"(?P<speaker>[FM]\d\d)(?P<emotion>[AFHNSW])(?P<utterance>\d{2,3})\.wav",),
    emotions={"A": "angry", "F": "fear", "H": "happy", "N": "neutral", "S": "sad",
              "W": "surprise"},
    classes=("angry", "fear", "happy", "neutral", "sad", "surprise"),
    utterances=3000, speakers=87, gender=lambda g: SEX[g["speaker"][0]])

SPECS = {spec.name: spec for spec in (AESDD, CAFE, CREMA_D, EMODB, EMOVO, IEMOCAP4, RAVDESS,
                                      SAVEE, SHEMO)}


def prepare(name: str, source: Path, target: Path, seed: int = SERAB_SEED,
            expected_utterances: int | None = None,
            expected_speakers: int | None = None) -> list[Path]:
    """Run the recipe of ``SPECS[name]`` (the registered recipes below call this)."""
    return serab.prepare(SPECS[name], source, target, seed, expected_utterances,
                         expected_speakers)


# The registered recipes: ``source`` is the corpus folder as distributed (unzipped),
# ``expected_*`` replace Table 1's counts in the check (for small test trees; logged).

def aesdd(source: Path, target: Path, seed: int = SERAB_SEED,
          expected_utterances: int | None = None, expected_speakers: int | None = None):
    return prepare("aesdd", source, target, seed, expected_utterances, expected_speakers)


def cafe(source: Path, target: Path, seed: int = SERAB_SEED, neutral: bool = False,
         expected_utterances: int | None = None, expected_speakers: int | None = None):
    spec = CAFE_WITH_NEUTRAL if neutral else CAFE
    return serab.prepare(spec, source, target, seed, expected_utterances, expected_speakers)


def crema_d(source: Path, target: Path, seed: int = SERAB_SEED,
            expected_utterances: int | None = None, expected_speakers: int | None = None):
    return prepare("crema_d", source, target, seed, expected_utterances, expected_speakers)


def emodb(source: Path, target: Path, seed: int = SERAB_SEED,
          expected_utterances: int | None = None, expected_speakers: int | None = None):
    return prepare("emodb", source, target, seed, expected_utterances, expected_speakers)


def emovo(source: Path, target: Path, seed: int = SERAB_SEED,
          expected_utterances: int | None = None, expected_speakers: int | None = None):
    return prepare("emovo", source, target, seed, expected_utterances, expected_speakers)


def iemocap4(source: Path, target: Path, seed: int = SERAB_SEED,
             expected_utterances: int | None = None, expected_speakers: int | None = None):
    return prepare("iemocap4", source, target, seed, expected_utterances, expected_speakers)


def ravdess(source: Path, target: Path, seed: int = SERAB_SEED,
            expected_utterances: int | None = None, expected_speakers: int | None = None):
    return prepare("ravdess", source, target, seed, expected_utterances, expected_speakers)


def savee(source: Path, target: Path, seed: int = SERAB_SEED,
          expected_utterances: int | None = None, expected_speakers: int | None = None):
    return prepare("savee", source, target, seed, expected_utterances, expected_speakers)


def shemo(source: Path, target: Path, seed: int = SERAB_SEED,
          expected_utterances: int | None = None, expected_speakers: int | None = None):
    return prepare("shemo", source, target, seed, expected_utterances, expected_speakers)
