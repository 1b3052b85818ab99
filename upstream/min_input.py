"""The shortest input (16 kHz samples) each upstream's front end accepts.

Shorter audio fails deep inside s3prl/torchaudio (e.g. ``choose a window size 400 that is
[2, 160]``) without naming the file, or yields NaN features; training and extraction check every
utterance against this table first (downstream/input_checks.py, docs/robustness.md).

Values were measured on the tiny random models of :func:`make_tiny` (the front ends are the
published ones; only the widths are small): the fewest samples giving at least one finite frame.
The front ends explain them: a 25 ms window is 400 samples (fbank_no_cmvn; wav2vec 2.0-style conv
encoders have a 400-sample receptive field), CMVN and the mel upstreams need two frames (560),
wav2vec's encoder has a 465-sample receptive field, openSMILE's functionals need 60 ms (960).
"""

from __future__ import annotations

DEFAULT = 400  # one 25 ms window at 16 kHz: the common case of the upstreams not listed
MIN_SAMPLES = {
    "fbank_no_cmvn": 400, "fbank": 560,
    "apc_960hr": 560, "vq_apc_960hr": 560, "npc_960hr": 560, "tera_960hr": 201,
    "mockingjay_960hr": 201, "decoar2": 560,
    "wavlm_large": 400, "hubert_large_ll60k": 400, "xls_r_1b": 400, "data2vec_large_ll60k": 400,
    "wav2vec2_large_960": 400, "wav2vec2_large_lv60_cv_swbd_fsh": 400,
    "wav2vec_large": 465, "vq_wav2vec": 465, "modified_cpc": 159,
    "byol_a_512": 1, "byol_s_512": 1, "compare": 960, "egemaps": 960,
    "raw_cnn": 1, "zff_cnn": 1001,
}


def min_samples(name: str) -> int:
    """The fewest 16 kHz samples upstream ``name`` (canonical or alias) accepts.

    >>> min_samples("fbank_no_cmvn"), min_samples("wavlm")
    (400, 400)
    """
    from emobench.upstream.registry import UPSTREAMS

    try:
        canonical = UPSTREAMS.canonical(name)
    except Exception:  # an unregistered name (e.g. hf:...) gets the common 25 ms window
        canonical = name
    return MIN_SAMPLES.get(canonical, DEFAULT)
