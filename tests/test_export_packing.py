"""In-graph packing truncates exactly as fine-tuning's Python encoding does."""

import numpy as np
import tensorflow as tf
from hypothesis import given, settings, strategies as st

from albert_tf.export.packing import pack, pair_lengths
from albert_tf.finetuning.features import encode_tokens


class IdTokenizer:
    """Tokens are already ids; [CLS] = 2, [SEP] = 3."""

    def convert_tokens_to_ids(self, tokens):
        return [{"[CLS]": 2, "[SEP]": 3}.get(t, t) for t in tokens]


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 40), st.integers(0, 40), st.integers(3, 30))
def test_closed_form_pair_lengths_equal_the_pop_loop(length_a, length_b, budget):
    a, b = list(range(length_a)), list(range(length_b))
    while len(a) + len(b) > budget:
        (a if len(a) > len(b) else b).pop()

    got = pair_lengths(tf.constant([length_a]), tf.constant([length_b]), budget)

    assert (int(got[0][0]), int(got[1][0])) == (len(a), len(b))


def test_packed_rows_equal_python_encoding_up_to_padding():
    rows_a = [[10, 11, 12, 13, 14, 15, 16], [20], []]
    rows_b = [[30, 31], [40, 41, 42, 43, 44, 45, 46, 47], [50]]

    packed = pack(tf.ragged.constant(rows_a), tf.ragged.constant(rows_b), max_seq_length=9, cls_id=2, sep_id=3)

    for i, (a, b) in enumerate(zip(rows_a, rows_b)):
        expected = encode_tokens(IdTokenizer(), a, b, max_seq_length=9)
        width = packed["input_word_ids"].shape[1]
        for key in ("input_word_ids", "input_mask", "input_type_ids"):
            np.testing.assert_array_equal(packed[key][i], getattr(expected, key)[:width])


def test_a_row_whose_second_segment_is_empty_packs_as_a_single_segment():
    rows_a = [[10, 11, 12, 13, 14, 15, 16, 17, 18], [20]]
    rows_b = [[], [40, 41]]

    packed = pack(tf.ragged.constant(rows_a), tf.ragged.constant(rows_b, dtype=tf.int32), max_seq_length=9, cls_id=2,
                  sep_id=3)

    for i, (a, b) in enumerate(zip(rows_a, rows_b)):
        expected = encode_tokens(IdTokenizer(), a, b or None, max_seq_length=9)
        width = packed["input_word_ids"].shape[1]
        for key in ("input_word_ids", "input_mask", "input_type_ids"):
            np.testing.assert_array_equal(packed[key][i], getattr(expected, key)[:width])
