"""Token ids of one or two segments → the encoder's input dict, in the graph.

The same layout and truncation as `albert_tf.finetuning.features.encode_tokens`: `[CLS] a [SEP]
(b [SEP])`, a single segment (no b, or a b without tokens) cut to `max_seq_length - 2`, a pair cut one token at a time from the
end of the longer segment (ties: from b) until it fits `max_seq_length - 3`. That loop has a closed
form, used here: if the shorter segment fits in half the budget it stays whole and the longer one
takes the rest; otherwise a gets ceil(budget / 2) and b floor(budget / 2).
"""

import tensorflow as tf


def pair_lengths(length_a, length_b, budget):
    """Lengths [B] that `truncate_pair` leaves of segments of lengths [B] for a budget."""
    shorter = tf.minimum(length_a, length_b)
    fits = length_a + length_b <= budget
    keeps_shorter = 2 * shorter <= budget
    a = tf.where(fits, length_a, tf.where(keeps_shorter, tf.where(length_a > length_b, budget - length_b, length_a),
                                          (budget + 1) // 2))
    b = tf.where(fits, length_b, tf.where(keeps_shorter, tf.where(length_a > length_b, length_b, budget - length_a),
                                          budget // 2))
    return a, b


def pack(ids_a, ids_b, max_seq_length, cls_id, sep_id):
    """Ragged int ids [B, (n)] (and optional b) → dense int32 inputs [B, T], T the longest row.

    Padding to the batch's longest row instead of `max_seq_length` changes nothing but speed:
    padded positions are masked out.
    """
    ids_a = tf.cast(ids_a, tf.int32)
    batch = ids_a.nrows()
    cls = tf.fill([batch, 1], cls_id)
    sep = tf.fill([batch, 1], sep_id)
    if ids_b is None:
        ids_a = ids_a[:, :max_seq_length - 2]
        pieces, types = [cls, ids_a, sep], [0, 0, 0]
    else:
        ids_b = tf.cast(ids_b, tf.int32)
        # A row whose b has no tokens is one segment, [CLS] a [SEP], as the original encodes it.
        single = tf.equal(ids_b.row_lengths(), 0)
        pair_a, pair_b = pair_lengths(ids_a.row_lengths(), ids_b.row_lengths(), max_seq_length - 3)
        length_a = tf.where(single, tf.minimum(ids_a.row_lengths(), max_seq_length - 2), pair_a)
        ids_a = tf.ragged.boolean_mask(ids_a, tf.ragged.range(ids_a.row_lengths()) < length_a[:, None])
        ids_b = tf.ragged.boolean_mask(ids_b, tf.ragged.range(ids_b.row_lengths()) < pair_b[:, None])
        closing = tf.RaggedTensor.from_row_lengths(
            tf.fill([tf.reduce_sum(tf.cast(~single, tf.int32))], sep_id), tf.cast(~single, tf.int64))
        pieces, types = [cls, ids_a, sep, ids_b, closing], [0, 0, 0, 1, 1]
    pieces = [tf.RaggedTensor.from_tensor(p) if isinstance(p, tf.Tensor) else p for p in pieces]
    word_ids = tf.concat(pieces, axis=1)
    type_ids = tf.concat([tf.ones_like(p) * t for p, t in zip(pieces, types)], axis=1)
    # Every row has [CLS] and [SEP]; so has an empty batch's shape [0, 2], where the encoder reads position 0.
    shape = tf.stack([batch, tf.maximum(word_ids.bounding_shape(axis=1), 2)])
    return {"input_word_ids": word_ids.to_tensor(0, shape=shape),
            "input_mask": tf.ones_like(word_ids).to_tensor(0, shape=shape),
            "input_type_ids": type_ids.to_tensor(0, shape=shape)}
