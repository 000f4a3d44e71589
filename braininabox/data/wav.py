"""Reading WAV files with the standard library's wave module.

    pcm = read_wav("7_jackson_32.wav", sample_rate=8000)   # 16-bit mono at 8 kHz, else refused
    pcm = read_wav("phone.wav", sample_rate=8000, convert=True)   # any PCM WAV, made so

Also available as bb.audio.read_wav.
"""
import os
import wave

import numpy as np

from .resample import resample

__all__ = ["read_wav", "wav_format"]


def wav_format(file):
    """(channels, bits per sample, sample rate, samples per channel) of a PCM WAV file."""
    file = os.fspath(file)
    try:
        with wave.open(file, "rb") as w:
            return w.getnchannels(), 8 * w.getsampwidth(), w.getframerate(), w.getnframes()
    except (wave.Error, EOFError) as e:
        raise ValueError(f"{file}: not a readable PCM WAV file ({e})") from None


def read_wav(file, sample_rate=None, convert=False):
    """The samples of a PCM WAV file as a 1-D int16 array.

    By default the file must be 16-bit mono (and at ``sample_rate``, when given); anything
    else is refused with a ValueError naming the file and what it is. With
    ``convert=True`` any PCM WAV the ``wave`` module reads (8, 16, 24 or 32-bit, any
    number of channels, any rate) is made 16-bit (the top 16 bits), mono (the channels'
    mean) and, when ``sample_rate`` is given, resampled to it (band-limited: resample.py).
    Empty and truncated files are refused either way.
    """
    file = os.fspath(file)
    channels, bits, rate, frames = wav_format(file)
    if not convert:
        if channels != 1:
            raise ValueError(f"{file}: {channels} channels; expected mono (1 channel)")
        if bits != 16:
            raise ValueError(f"{file}: {bits}-bit samples; expected 16-bit PCM")
        if sample_rate is not None and rate != sample_rate:
            raise ValueError(f"{file}: sampled at {rate} Hz; expected {sample_rate} Hz")
    elif bits not in (8, 16, 24, 32):
        raise ValueError(f"{file}: {bits}-bit samples; expected 8, 16, 24 or 32-bit PCM")
    try:
        with wave.open(file, "rb") as w:
            data = w.readframes(frames)
    except (wave.Error, EOFError) as e:
        raise ValueError(f"{file}: not a readable PCM WAV file ({e})") from None
    width = bits // 8
    if len(data) != width * channels * frames:
        raise ValueError(f"{file}: truncated: the header promises {frames} samples, the file "
                         f"holds {len(data) // (width * channels)}")
    if frames == 0:
        raise ValueError(f"{file}: no samples")
    if not convert:
        return np.frombuffer(data, dtype="<i2").astype(np.int16)
    samples = _as_int16_units(data, width).reshape(frames, channels).mean(axis=1)
    if sample_rate is not None and rate != sample_rate:
        return resample(samples, rate, sample_rate)
    return np.clip(np.rint(samples), -32768, 32767).astype(np.int16)


def _as_int16_units(data, width):
    """Interleaved little-endian PCM samples as float64 on the int16 scale. 8-bit WAV
    is unsigned (128 is silence); wider samples are signed."""
    raw = np.frombuffer(data, dtype=np.uint8)
    if width == 1:
        return (raw.astype(np.float64) - 128) * 256
    if width == 2:
        return np.frombuffer(data, dtype="<i2").astype(np.float64)
    if width == 3:  # no numpy dtype: widen each sample to 4 bytes, sign in the top one
        b = raw.reshape(-1, 3).astype(np.int32)
        value = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        return np.where(value >= 1 << 23, value - (1 << 24), value).astype(np.float64) / 256
    return np.frombuffer(data, dtype="<i4").astype(np.float64) / 65536
