"""TFRecord files without TensorFlow, for the data tool (whose processes import none).

Each record of a TFRecord file is framed as TensorFlow's record writer frames it:

    length (uint64, little-endian) | masked CRC32-C of those 8 bytes | data | masked CRC32-C of data

Python has no CRC32-C (zlib's crc32 is another polynomial), and a byte-by-byte loop in Python
would cost more than making the records. So the checksums of many records are computed at once
with NumPy: byte position by byte position, each step a table lookup across all the records.
Records of different lengths are aligned at their ends, the shorter ones preceded by zero bytes,
and each starts from the state that its zero bytes turn into CRC-32C's initial state.
"""

import struct

import numpy as np

_POLYNOMIAL = 0x82F63B78  # Castagnoli's, bit-reversed
_MASK_DELTA = 0xA282EAD8


def _byte_table():
    table = np.arange(256, dtype=np.uint32)
    for _ in range(8):
        table = np.where(table & 1, (table >> 1) ^ np.uint32(_POLYNOMIAL), table >> 1).astype(np.uint32)
    return table


_TABLE = _byte_table()
# The table's top bytes are a permutation of 0..255, so one step over a zero byte can be undone.
_INDEX_OF_TOP_BYTE = np.empty(256, dtype=np.uint32)
_INDEX_OF_TOP_BYTE[_TABLE >> 24] = np.arange(256, dtype=np.uint32)


def _states_before_zeros(count):
    """[s_0, …, s_count]: the states that k zero bytes take to the initial state 0xFFFFFFFF."""
    states = [0xFFFFFFFF]
    for _ in range(count):
        after = states[-1]
        index = int(_INDEX_OF_TOP_BYTE[after >> 24])
        states.append((((after ^ int(_TABLE[index])) << 8) | index) & 0xFFFFFFFF)
    return states


def crc32c(records):
    """The CRC-32C of each bytes object in `records`, as a uint32 array."""
    if not records:
        return np.zeros(0, dtype=np.uint32)
    lengths = [len(record) for record in records]
    longest = max(lengths)
    aligned = np.frombuffer(b"".join(bytes(longest - n) + record for n, record in zip(lengths, records)),
                            dtype=np.uint8).reshape(len(records), longest)
    columns = np.ascontiguousarray(aligned.T).astype(np.uint32)
    start = np.array(_states_before_zeros(longest - min(lengths)), dtype=np.uint32)
    state = start[[longest - n for n in lengths]]
    for column in columns:
        state = _TABLE[(state ^ column) & 0xFF] ^ (state >> 8)
    return state ^ np.uint32(0xFFFFFFFF)


def masked(crc):
    """TFRecord's masking of a CRC (a CRC of data holding CRCs is weak, says TensorFlow's crc32c.h)."""
    return ((crc >> 15) | (crc << 17)) + np.uint32(_MASK_DELTA)


def frame(records):
    """The bytes of `records` (a list of bytes) as they lie in a TFRecord file, one bytes per record."""
    lengths = [struct.pack("<Q", len(record)) for record in records]
    length_crcs, data_crcs = masked(crc32c(lengths)), masked(crc32c(records))
    return [length + struct.pack("<I", length_crc) + record + struct.pack("<I", data_crc)
            for length, length_crc, record, data_crc in zip(lengths, length_crcs.tolist(), records,
                                                            data_crcs.tolist())]
