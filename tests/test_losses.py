import numpy as np
import pytest
import tensorflow as tf

from albert_tf.losses import masked_lm_loss, metric_results, pretraining_metrics, sentence_order_loss

RNG = np.random.default_rng(0)
# Two examples, three prediction slots, vocabulary of 5; the first example uses two slots, the
# second one, the rest is padding (label 0, weight 0) as the pretraining data writes it.
MLM_LOGITS = RNG.normal(size=(2, 3, 5)).astype("float32")
MLM_LABELS = np.array([[3, 1, 0], [4, 0, 0]], dtype="int32")
MLM_WEIGHTS = np.array([[1.0, 1.0, 0.0], [1.0, 0.0, 0.0]], dtype="float32")
SOP_LOGITS = np.array([[2.0, -1.0], [0.5, 1.5], [0.0, 3.0]], dtype="float32")
SOP_LABELS = np.array([0, 0, 1], dtype="int32")


def numpy_cross_entropy(logits, labels):
    logits = logits.astype("float64")
    log_probs = logits - np.log(np.sum(np.exp(logits), axis=-1, keepdims=True))
    return -np.take_along_axis(log_probs, labels[..., None], axis=-1)[..., 0]


def as_logits(values, dtype):
    return tf.cast(tf.constant(values), dtype)


@pytest.mark.parametrize("dtype", [tf.float32, tf.bfloat16])
def test_masked_lm_loss_is_weighted_mean_with_offset_denominator(dtype):
    logits = as_logits(MLM_LOGITS, dtype)

    loss = masked_lm_loss(logits, MLM_LABELS, MLM_WEIGHTS)

    # The reference sees the same (possibly bfloat16-rounded) logits, in float64.
    per_slot = numpy_cross_entropy(tf.cast(logits, tf.float32).numpy(), MLM_LABELS)
    expected = np.sum(MLM_WEIGHTS * per_slot) / (np.sum(MLM_WEIGHTS) + 1e-5)
    assert loss.dtype == tf.float32 and float(loss) == pytest.approx(expected, rel=1e-6)


def test_masked_lm_loss_ignores_padding_slots():
    garbage_in_padding = np.where(MLM_WEIGHTS[..., None] == 0, 1e4, MLM_LOGITS).astype("float32")

    loss = masked_lm_loss(garbage_in_padding, MLM_LABELS, MLM_WEIGHTS)

    assert float(loss) == float(masked_lm_loss(MLM_LOGITS, MLM_LABELS, MLM_WEIGHTS))


@pytest.mark.parametrize("dtype", [tf.float32, tf.bfloat16])
def test_sentence_order_loss_is_mean_cross_entropy(dtype):
    logits = as_logits(SOP_LOGITS, dtype)

    loss = sentence_order_loss(logits, SOP_LABELS)

    expected = np.mean(numpy_cross_entropy(tf.cast(logits, tf.float32).numpy(), SOP_LABELS))
    assert loss.dtype == tf.float32 and float(loss) == pytest.approx(expected, rel=1e-6)


def test_metrics_match_hand_computed_values():
    # Each slot predicts the id set to 1.0. Real slots: two right, (0, 1) wrong. Padded slots
    # hold both right and wrong predictions, and must count for nothing.
    mlm_logits = np.full((2, 3, 5), -1.0, dtype="float32")
    for (example, slot), predicted in {(0, 0): 3, (0, 1): 2, (0, 2): 0, (1, 0): 4, (1, 1): 1,
                                       (1, 2): 0}.items():
        mlm_logits[example, slot, predicted] = 1.0

    sums = pretraining_metrics(mlm_logits, MLM_LABELS, MLM_WEIGHTS, SOP_LOGITS, SOP_LABELS)

    expected = {
        "masked_lm_accuracy": 2 / 3,
        # The metric divides by sum(weights) exactly; only the training loss adds 1e-5.
        "masked_lm_loss": np.sum(MLM_WEIGHTS * numpy_cross_entropy(mlm_logits, MLM_LABELS)) / 3,
        "sentence_order_accuracy": 2 / 3,
        "sentence_order_loss": np.mean(numpy_cross_entropy(SOP_LOGITS, SOP_LABELS)),
    }
    results = {name: float(value) for name, value in metric_results(sums).items()}
    assert results == pytest.approx(expected, rel=1e-6)


def test_metric_sums_over_batches_equal_metrics_of_the_whole_set():
    # Batches with different numbers of real predictions: averaging per-batch means would be wrong.
    first = pretraining_metrics(MLM_LOGITS[:1], MLM_LABELS[:1], MLM_WEIGHTS[:1], SOP_LOGITS[:1],
                                SOP_LABELS[:1])
    second = pretraining_metrics(MLM_LOGITS[1:], MLM_LABELS[1:], MLM_WEIGHTS[1:], SOP_LOGITS[1:2],
                                 SOP_LABELS[1:2])
    whole = pretraining_metrics(MLM_LOGITS, MLM_LABELS, MLM_WEIGHTS, SOP_LOGITS[:2], SOP_LABELS[:2])

    summed = {name: first[name] + second[name] for name in whole}

    assert {k: float(v) for k, v in metric_results(summed).items()} == pytest.approx(
        {k: float(v) for k, v in metric_results(whole).items()}, rel=1e-6)


def test_metrics_of_an_all_padding_batch_are_zero_not_nan():
    sums = pretraining_metrics(MLM_LOGITS, MLM_LABELS, np.zeros_like(MLM_WEIGHTS), SOP_LOGITS[:0],
                               SOP_LABELS[:0])

    assert all(float(value) == 0.0 for value in metric_results(sums).values())


def test_losses_of_the_parts_of_a_batch_add_up_to_the_whole_batch_loss():
    rng = np.random.default_rng(3)
    logits = rng.standard_normal((4, 3, 11)).astype(np.float32)
    ids = rng.integers(0, 11, (4, 3))
    weights = np.array([[1, 1, 0], [1, 0, 0], [1, 1, 1], [0, 0, 0]], np.float32)
    sop_logits = rng.standard_normal((4, 2)).astype(np.float32)
    labels = np.array([0, 1, 1, 0])
    halves = [slice(0, 1), slice(1, 4)]

    mlm_parts = sum(masked_lm_loss(logits[h], ids[h], weights[h], total_weight=weights.sum()) for h in halves)
    sop_parts = sum(sentence_order_loss(sop_logits[h], labels[h], total_examples=4) for h in halves)

    np.testing.assert_allclose([mlm_parts, sop_parts],
                               [masked_lm_loss(logits, ids, weights), sentence_order_loss(sop_logits, labels)],
                               rtol=1e-6)
