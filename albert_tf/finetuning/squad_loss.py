"""The original's SQuAD training losses, per window, as plain functions of model outputs and batch."""

import tensorflow as tf


def v1_loss(outputs, batch):
    """(CE(start) + CE(end)) / 2 on the start and end logits, over every position (the original's
    v1.1 head masks nothing)."""
    start = tf.nn.sparse_softmax_cross_entropy_with_logits(batch["start_positions"], outputs["start_logits"])
    end = tf.nn.sparse_softmax_cross_entropy_with_logits(batch["end_positions"], outputs["end_logits"])
    return (start + end) / 2


def v2_loss(outputs, batch):
    """(−log p(start) − log p(end | gold start)) / 2 + 0.5 · sigmoid CE(cls_logits, is_impossible);
    the 0.5 keeps the answerability term on the scale of the span terms, as the original."""
    start = -tf.gather(outputs["start_log_probs"], batch["start_positions"], batch_dims=1)
    end = -tf.gather(outputs["end_log_probs"], batch["end_positions"], batch_dims=1)
    answerable = tf.nn.sigmoid_cross_entropy_with_logits(tf.cast(batch["is_impossible"], tf.float32),
                                                         outputs["cls_logits"])
    return (start + end) / 2 + 0.5 * answerable


def per_example_loss(version_2_with_negative):
    """The loss for a SQuAD v2.0 (XLNet-style head) or v1.1 (start/end logits) model."""
    return v2_loss if version_2_with_negative else v1_loss
