import numpy as np
import tensorflow as tf

from albert_tf.data import tfrecord_framing


def bitwise_crc32c(data):
    """CRC-32C bit by bit, straight from its definition (reflected polynomial 0x82F63B78)."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def random_records(count, longest, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, n, dtype=np.uint8).tobytes() for n in rng.integers(0, longest, count)]


def test_crc32c_of_the_standard_check_string_is_its_published_value():
    assert int(tfrecord_framing.crc32c([b"123456789"])[0]) == 0xE3069283


def test_crc32c_of_records_of_different_lengths_matches_the_bitwise_definition():
    records = random_records(40, 300) + [b"", b"\x00", b"\x00" * 17]

    assert tfrecord_framing.crc32c(records).tolist() == [bitwise_crc32c(record) for record in records]


def test_framed_records_are_the_bytes_tensorflows_writer_writes(tmp_path):
    records = random_records(200, 3000, seed=1) + [b""]
    with tf.io.TFRecordWriter(str(tmp_path / "reference.tfrecord")) as writer:
        for record in records:
            writer.write(record)

    assert b"".join(tfrecord_framing.frame(records)) == (tmp_path / "reference.tfrecord").read_bytes()
