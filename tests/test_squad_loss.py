"""SQuAD training losses against the original's formulas computed in NumPy."""

import numpy as np
import tensorflow as tf

from albert_tf.finetuning import squad_loss


def log_softmax(x):
    shifted = x - x.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def test_v1_loss_is_the_mean_of_the_start_and_end_cross_entropies():
    rng = np.random.default_rng(0)
    start_logits, end_logits = rng.normal(size=(2, 3, 6)).astype(np.float32)
    batch = {"start_positions": np.array([1, 0, 4]), "end_positions": np.array([2, 0, 5])}

    loss = squad_loss.per_example_loss(False)({"start_logits": start_logits, "end_logits": end_logits}, batch)

    rows = np.arange(3)
    expected = -(log_softmax(start_logits)[rows, batch["start_positions"]]
                 + log_softmax(end_logits)[rows, batch["end_positions"]]) / 2
    np.testing.assert_allclose(loss, expected, rtol=1e-6)


def test_v2_loss_adds_half_the_answerability_cross_entropy_to_the_span_loss():
    rng = np.random.default_rng(0)
    start_log_probs = tf.nn.log_softmax(rng.normal(size=(2, 5)).astype(np.float32)).numpy()
    end_log_probs = tf.nn.log_softmax(rng.normal(size=(2, 5)).astype(np.float32)).numpy()
    cls_logits = np.array([0.3, -1.2], np.float32)
    batch = {"start_positions": np.array([1, 0]), "end_positions": np.array([3, 0]), "is_impossible": np.array([0, 1])}

    loss = squad_loss.per_example_loss(True)(
        {"start_log_probs": start_log_probs, "end_log_probs": end_log_probs, "cls_logits": cls_logits}, batch)

    p_impossible = 1 / (1 + np.exp(-cls_logits))
    sigmoid_ce = -(batch["is_impossible"] * np.log(p_impossible) + (1 - batch["is_impossible"]) * np.log1p(-p_impossible))
    expected = -(start_log_probs[[0, 1], [1, 0]] + end_log_probs[[0, 1], [3, 0]]) / 2 + 0.5 * sigmoid_ce
    np.testing.assert_allclose(loss, expected, rtol=1e-6)
