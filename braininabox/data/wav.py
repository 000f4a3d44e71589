"""Reading WAV files with the standard library's wave module: 16-bit mono PCM only.

    pcm = read_wav("7_jackson_32.wav", sample_rate=8000)   # 1-D int16

Also available as bb.audio.read_wav.
"""
import os
import wave

import numpy as np

__all__ = ["read_wav"]


def read_wav(file, sample_rate=None):
    """The samples of a 16-bit mono PCM WAV file as a 1-D int16 array.

    Refuses (ValueError naming the file) anything else: another sample width, more than
    one channel, no samples, a rate other than ``sample_rate`` (when given), or a file
    the ``wave`` module cannot read.
    """
    file = os.fspath(file)
    try:
        with wave.open(file, "rb") as w:
            channels, width, rate = w.getnchannels(), w.getsampwidth(), w.getframerate()
            frames = w.getnframes()
            if channels != 1:
                raise ValueError(f"{file}: {channels} channels; expected mono (1 channel)")
            if width != 2:
                raise ValueError(f"{file}: {8 * width}-bit samples; expected 16-bit PCM")
            if sample_rate is not None and rate != sample_rate:
                raise ValueError(f"{file}: sampled at {rate} Hz; expected {sample_rate} Hz")
            data = w.readframes(frames)
    except (wave.Error, EOFError) as e:
        raise ValueError(f"{file}: not a readable PCM WAV file ({e})") from None
    if len(data) != 2 * frames:
        raise ValueError(f"{file}: truncated: the header promises {frames} samples, the file "
                         f"holds {len(data) // 2}")
    if frames == 0:
        raise ValueError(f"{file}: no samples")
    return np.frombuffer(data, dtype="<i2").astype(np.int16)
