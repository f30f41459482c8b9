"""Voice stage: how loud an utterance was, measured on its own 16 kHz audio.

Only absolute measures live here; comparing a speaker with their own running baseline is the
conversation state's job (``signals.py``), so the agent's microphone level is never compared
with the customer's line level. Speaking rate needs no audio (it comes from word timestamps)
and is computed there too.

Loudness is the *active speech level*: the mean power of the voiced 20 ms frames, where a
frame counts as voiced when it is within ``VOICED_RANGE_DB`` of the loudest frames (the 95th
percentile). Pauses, breaths and line noise between words therefore do not dilute it, and it
works the same on 8 kHz telephone audio resampled to 16 kHz.
"""

from __future__ import annotations

import math

import numpy as np

from .audio import STREAM_RATE_HZ
from .types import VoiceMeasure

FRAME_S = 0.02
VOICED_RANGE_DB = 20.0
MIN_VOICED_S = 0.2
_FRAME = int(FRAME_S * STREAM_RATE_HZ)


def measure_voice(audio: np.ndarray) -> VoiceMeasure | None:
    """Loudness of one utterance's audio, or None when it holds under 0.2 s of voiced frames."""
    samples = np.asarray(audio, dtype=np.float64)
    n = samples.shape[0] // _FRAME
    if n == 0:
        return None
    power = np.mean(np.square(samples[: n * _FRAME].reshape(n, _FRAME)), axis=1) + 1e-12
    level_db = 10.0 * np.log10(power)
    voiced = level_db >= np.percentile(level_db, 95) - VOICED_RANGE_DB
    voiced_s = float(np.count_nonzero(voiced)) * FRAME_S
    if voiced_s < MIN_VOICED_S:
        return None
    return VoiceMeasure(loudness_dbfs=10.0 * math.log10(float(np.mean(power[voiced]))), voiced_s=voiced_s)
