"""The pretraining objective of the original release: weighted MLM loss + SOP loss, and metrics.

Everything is computed in float32, whatever the dtype of the logits (e.g. bfloat16 under mixed
precision). Cross-entropy is `-sum(one_hot(label) * log_softmax(logits))`, as in the original, so
a label outside the vocabulary contributes 0 instead of failing.
"""

import tensorflow as tf

MASKED_LM_LOSS_EPSILON = 1e-5


def masked_lm_loss(logits, label_ids, weights, total_weight=None):
    """`sum(weights * cross_entropy) / (sum(weights) + 1e-5)` over all predicted positions.

    Args:
        logits: [batch, max_predictions, vocab_size] MLM logits.
        label_ids: [batch, max_predictions] int ids of the masked tokens.
        weights: [batch, max_predictions], 1.0 for real predictions and 0.0 for padding.
        total_weight: `sum(weights)` over the whole global batch when this is one replica's or
            one micro-batch's part of it; the parts' losses then add up to the global batch's
            loss. (The original divided by each TPU core's own sum, so its loss depended on the
            number of cores.) Default: this batch's own sum.
    """
    weights = tf.cast(weights, tf.float32)
    numerator = tf.reduce_sum(weights * _cross_entropy(logits, label_ids))
    if total_weight is None:
        total_weight = tf.reduce_sum(weights)
    return numerator / (total_weight + MASKED_LM_LOSS_EPSILON)


def sentence_order_loss(logits, labels, total_examples=None):
    """Mean cross-entropy of the [batch, 2] SOP logits; label 0 = in order, 1 = swapped.

    `total_examples`: the global batch size when this batch is a part of it (see
    `masked_lm_loss`); default: this batch's size.
    """
    losses = _cross_entropy(logits, tf.reshape(labels, [-1]))
    if total_examples is None:
        return tf.reduce_mean(losses)
    return tf.reduce_sum(losses) / tf.cast(total_examples, tf.float32)


def pretraining_metrics(masked_lm_logits, masked_lm_ids, masked_lm_weights, sentence_order_logits,
                        sentence_order_labels):
    """The original's four eval metrics for one batch, as `[total, count]` float32 pairs.

    Pairs add up: sum them over batches (and over replicas with `strategy.reduce(SUM, ...)`),
    then `metric_results` divides. This reproduces the original's streaming `tf.metrics`:
    MLM accuracy and loss are weighted by `masked_lm_weights`, and the MLM loss metric divides by
    `sum(weights)` alone (the `+ 1e-5` belongs to the training loss only). SOP accuracy and loss
    count every example.

    Returns:
        dict with keys `masked_lm_accuracy`, `masked_lm_loss`, `sentence_order_accuracy`,
        `sentence_order_loss`, each a float32 tensor of shape [2].
    """
    weights = tf.cast(masked_lm_weights, tf.float32)
    sop_labels = tf.reshape(sentence_order_labels, [-1])
    sop_losses = _cross_entropy(sentence_order_logits, sop_labels)
    num_examples = tf.cast(tf.size(sop_labels), tf.float32)
    return {
        "masked_lm_accuracy": tf.stack([
            tf.reduce_sum(weights * _is_correct(masked_lm_logits, masked_lm_ids)),
            tf.reduce_sum(weights)]),
        "masked_lm_loss": tf.stack([
            tf.reduce_sum(weights * _cross_entropy(masked_lm_logits, masked_lm_ids)),
            tf.reduce_sum(weights)]),
        "sentence_order_accuracy": tf.stack([
            tf.reduce_sum(_is_correct(sentence_order_logits, sop_labels)), num_examples]),
        "sentence_order_loss": tf.stack([tf.reduce_sum(sop_losses), num_examples]),
    }


def metric_results(metric_sums):
    """`total / count` for each `[total, count]` pair of `pretraining_metrics`; 0 when count is 0."""
    return {name: tf.math.divide_no_nan(pair[0], pair[1]) for name, pair in metric_sums.items()}


def _cross_entropy(logits, labels):
    logits = tf.cast(logits, tf.float32)
    one_hot = tf.one_hot(labels, depth=tf.shape(logits)[-1], dtype=tf.float32)
    return -tf.reduce_sum(one_hot * tf.nn.log_softmax(logits, axis=-1), axis=-1)


def _is_correct(logits, labels):
    labels = tf.convert_to_tensor(labels)
    predictions = tf.argmax(tf.cast(logits, tf.float32), axis=-1, output_type=labels.dtype)
    return tf.cast(tf.equal(predictions, labels), tf.float32)
