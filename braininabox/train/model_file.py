"""The model file: an uncompressed npz archive whose zip comment carries a SHA-256 of
every byte before it, read without trusting anything in it before it is checked.

    file = npz bytes (members __header__.npy, param_0.npy, ...; ZIP_STORED)
           whose end record announces a 74-byte comment: b"bb-sha256:" + 64 hex digits,
           the SHA-256 of every byte of the file except those 64 digits.

A float model (Sequential, Model) holds float parameters param_<i> and buffers
buffer_<layer>_<name>; an int8 model (QuantizedModel.save, deploy/quantized_file.py)
holds its ops' integer arrays, op_<i>_<field>: the header's format says which names and
dtypes the members may have.

Reading checks, in order: the size and the trailer (a few bytes, so a huge sparse or
foreign file is refused without reading it), the member list and sizes from the zip
directory (uncompressed members only: no deflate bomb), the checksum (streamed in
chunks), the header, the declared dtype and shape of every parameter (floats only), and
only then reads the arrays. Format version 1 files (no checksum) still load, with each
member's zip CRC verified. Every failure is a ModelFileError naming the file and the
problem.
"""
import hashlib
import io
import json
import os
import re
import zipfile

import numpy as np

TRAILER = b"bb-sha256:"
_DIGITS = 64
_CHUNK = 1 << 20
MAX_HEADER_BYTES = 1 << 20      # the JSON architecture; real ones are a few KB
MAX_NPY_HEADER = 4096           # numpy writes 64..a few hundred bytes
_MEMBER_OVERHEAD = 1024         # zip local + central records (zip64) per member, generous
# Arrays other than parameters a layer may save (e.g. running statistics): buffer_<layer>_<name>.
EXTRA_MEMBER = re.compile(r"buffer_[0-9]+_[A-Za-z0-9_]+\.npy")
# The arrays of an int8 model's ops (QuantizedModel): op_<op index>_<field>.
OP_MEMBER = re.compile(r"op_[0-9]+_[a-z0-9_]+\.npy")
QUANTIZED_FORMAT = "braininabox.QuantizedModel"
# The dtypes an int8 model's arrays may have (int8 weights, int32 biases and multipliers,
# float64 weight scales); the op checks each array against its own field.
QUANTIZED_DTYPES = ("int8", "int16", "int32", "float32", "float64")


class ModelFileError(ValueError):
    """A file bb.load cannot read as a braininabox model: corrupted, truncated, foreign,
    or declaring an architecture its contents do not match. The message names the file."""


def encode(header, arrays):
    """The bytes of a model file: header (a JSON-able dict) and the arrays, in order."""
    buffer = io.BytesIO()
    np.savez(buffer, __header__=np.array(json.dumps(header)), **arrays)
    return seal(buffer.getvalue())


def seal(npz):
    """npz bytes (no zip comment) with the checksum trailer as the zip comment."""
    body = bytearray(npz)
    # The end-of-central-directory record is the last 22 bytes; its last 2 are the
    # comment length (0 from np.savez).
    if len(body) < 22 or body[-22:-18] != b"PK\x05\x06" or body[-2:] != b"\0\0":
        raise RuntimeError("internal: unexpected npz layout from numpy")
    body[-2:] = (len(TRAILER) + _DIGITS).to_bytes(2, "little")
    body += TRAILER
    return bytes(body) + hashlib.sha256(body).hexdigest().encode()


class _Reader:
    def __init__(self, path):
        self.path = path

    def fail(self, problem):
        raise ModelFileError(f"{self.path} is not a readable braininabox model file: {problem}")

    # ----------------------------------------------------------- checksum
    def verify_checksum(self, f, size):
        f.seek(size - len(TRAILER) - _DIGITS)
        trailer = f.read(len(TRAILER) + _DIGITS)
        if not trailer.startswith(TRAILER):
            return False
        digest = hashlib.sha256()
        f.seek(0)
        left = size - _DIGITS
        while left:
            chunk = f.read(min(_CHUNK, left))
            if not chunk:
                self.fail("it ended while being read")
            digest.update(chunk)
            left -= len(chunk)
        if digest.hexdigest().encode() != trailer[len(TRAILER):]:
            self.fail("its checksum does not match its contents (the file is corrupted)")
        return True

    # ------------------------------------------------------------ members
    def members(self, archive, size):
        infos = archive.infolist()
        names = [i.filename for i in infos]
        if "__header__.npy" not in names or len(set(names)) != len(names):
            self.unexpected(names)
        for info in infos:
            if info.compress_type != zipfile.ZIP_STORED or info.file_size != info.compress_size:
                self.fail(f"member {info.filename} is compressed (model files are written "
                          f"uncompressed)")
            if info.flag_bits & 0x1:
                self.fail(f"member {info.filename} is marked encrypted")
        stored = sum(i.compress_size for i in infos)
        if stored > size or size > stored + _MEMBER_OVERHEAD * (len(infos) + 1):
            self.fail(f"its members declare {stored} bytes in a file of {size} bytes")
        return {i.filename: i for i in infos}

    def unexpected(self, names):
        self.fail(f"unexpected members {names[:8]}{'...' if len(names) > 8 else ''}")

    def check_names(self, names, quantized):
        """The members an int8 model (quantized) or a float model may have."""
        if quantized:
            if not all(n == "__header__.npy" or OP_MEMBER.fullmatch(n) for n in names):
                self.unexpected(names)
            return
        extras = [n for n in names if EXTRA_MEMBER.fullmatch(n)]
        count = len(names) - 1 - len(extras)
        expected = ["__header__.npy"] + [f"param_{i}.npy" for i in range(count)] + extras
        if sorted(names) != sorted(expected):
            self.unexpected(names)

    def check_dtype(self, name, dtype, quantized):
        what = name[:-4].replace("param_", "parameter ")
        if not dtype.isnative or dtype.hasobject:
            self.fail(f"{what} has dtype {dtype}")
        if quantized and dtype.name not in QUANTIZED_DTYPES:
            self.fail(f"{what} has dtype {dtype} (int8 model arrays are "
                      f"{', '.join(QUANTIZED_DTYPES)})")
        if not quantized and (dtype.kind != "f" or dtype.itemsize not in (2, 4, 8)):
            self.fail(f"{what} has dtype {dtype} (model arrays are float32)")

    def npy_header(self, archive, info):
        """(dtype, shape, offset of the data) from a member's npy header, read alone."""
        with archive.open(info) as member:
            head = member.read(min(info.file_size, MAX_NPY_HEADER))
        stream = io.BytesIO(head)
        version = np.lib.format.read_magic(stream)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(stream)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(stream)
        else:
            self.fail(f"member {info.filename} has npy version {version}")
        if fortran:
            self.fail(f"member {info.filename} is in Fortran order")
        return dtype, tuple(shape), stream.tell()

    def read_member(self, archive, info, dtype, shape, offset):
        """The array of a member whose header was checked; its size must match exactly."""
        count = 1
        for d in shape:
            count *= d
        if info.file_size != offset + count * dtype.itemsize:
            self.fail(f"member {info.filename} declares shape {shape} ({dtype}) but holds "
                      f"{info.file_size - offset} bytes of data")
        with archive.open(info) as member:  # read to the end: zipfile checks the CRC there
            raw = member.read()
        if len(raw) != info.file_size:
            self.fail(f"member {info.filename} is truncated")
        return np.frombuffer(raw, dtype=dtype, offset=offset, count=count).reshape(shape)

    def header(self, archive, info):
        if info.file_size > MAX_HEADER_BYTES:
            self.fail(f"its header declares {info.file_size} bytes")
        dtype, shape, offset = self.npy_header(archive, info)
        if dtype.kind != "U" or shape != ():
            self.fail("its header is not a JSON string")
        text = str(self.read_member(archive, info, dtype, shape, offset)[()])
        header = json.loads(text)
        if not isinstance(header, dict):
            self.fail("its header is not a JSON object")
        return header


def read(path):
    """(header dict, [(dtype, shape, read function)] for param_0, param_1, ..., {name: the
    same} for the other arrays (buffer_<layer>_<name>, or an int8 model's op_<i>_<field>),
    the open file, whether it carried a checksum) of a model file.

    Nothing large is read or allocated here: each parameter's bytes are read by its
    function, after the caller compared the declared shapes with the architecture.
    """
    reader = _Reader(path)
    size = os.path.getsize(path)
    if size < 22:
        reader.fail(f"it has only {size} bytes")
    f = open(path, "rb")
    try:
        checked = reader.verify_checksum(f, size)
        f.seek(0)
        archive = zipfile.ZipFile(f)
        infos = reader.members(archive, size)
        header = reader.header(archive, infos["__header__.npy"])
        quantized = header.get("format") == QUANTIZED_FORMAT
        reader.check_names(list(infos), quantized)
        arrays = {}
        for name, info in infos.items():
            if name == "__header__.npy":
                continue
            dtype, shape, offset = reader.npy_header(archive, info)
            reader.check_dtype(name, dtype, quantized)

            def load(info=info, dtype=dtype, shape=shape, offset=offset):
                return reader.read_member(archive, info, dtype, shape, offset)
            arrays[name[:-4]] = (dtype, shape, load)
    except BaseException:
        f.close()
        raise
    params = [arrays.pop(f"param_{i}") for i in range(len(arrays))
              if f"param_{i}" in arrays]
    return header, params, arrays, f, checked
