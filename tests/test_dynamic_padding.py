"""Dynamic padding: batches cut to their longest row, with the outputs and metrics of fixed padding.

Real positions' outputs match fixed padding's to float32 rounding (padded keys get an attention
weight of exactly zero, but sums run over other lengths): logits to ATOL, decisions and metrics
exactly.
"""

import functools

import numpy as np
import pytest
import tensorflow as tf

from albert_tf import AlbertConfig, AlbertMultipleChoice, AlbertQuestionAnswerer, FullTokenizer
from albert_tf.finetuning import glue, squad_data, squad_postprocess
from albert_tf.finetuning.trainer import (CUT_POSITION_SCORE, PAD_MULTIPLE, Finetuner, FinetuningConfig,
                                          padded_length, trim_batch)
from tests.conftest import two_cpu_mirrored_strategy
from tests.squad_fixtures import SAMPLE_MODEL, features_for
from tests.test_finetuner import ONE_DEVICE, classification_loss, tiny_classifier
from tests.test_pretraining import REPLICA_ATOL, TINY, VOCAB

ATOL = 1e-5
SEQ = 32  # TINY's max_position_embeddings: rows of 3 to 32 tokens pad to 16 or 32


def mask_of(lengths, seq=SEQ):
    return (np.arange(seq) < np.asarray(lengths)[..., None]).astype(np.int32)


def varied_length_features(count=24, shape=(), num_labels=2, seed=0):
    """Token features of `shape` + [SEQ] rows of 3 to SEQ real tokens, and labels."""
    rng = np.random.default_rng(seed)
    mask = mask_of(rng.integers(3, SEQ + 1, (count, *shape)))
    return tf.data.Dataset.from_tensor_slices({
        "input_word_ids": (rng.integers(5, VOCAB, mask.shape) * mask).astype(np.int32), "input_mask": mask,
        "input_type_ids": np.zeros(mask.shape, np.int32),
        "label_ids": rng.integers(0, num_labels, count).astype(np.int32)})


def finetuner(tmp_path, model_fn, dynamic_padding, strategy=None, **overrides):
    fields = dict(output_dir=str(tmp_path), train_batch_size=4, learning_rate=1e-3, num_train_steps=2,
                  save_checkpoints_steps=1, keep_checkpoint_max=0, dynamic_padding=dynamic_padding)
    fields.update(overrides)
    return Finetuner(strategy or tf.distribute.OneDeviceStrategy(ONE_DEVICE), model_fn, classification_loss,
                     FinetuningConfig(**fields))


def fixed_and_dynamic(tmp_path, model_fn, strategy=None):
    """Two finetuners with the same weights, one padding to the full length, one dynamically."""
    fixed = finetuner(tmp_path / "fixed", model_fn, False)
    dynamic = finetuner(tmp_path / "dynamic", model_fn, True, strategy)
    dynamic.model.set_weights(fixed.model.get_weights())
    return fixed, dynamic


def test_a_batch_is_cut_to_its_longest_row_rounded_up_to_the_pad_multiple():
    batch = {"input_word_ids": tf.ones((2, 64), tf.int32), "input_mask": tf.constant(mask_of([3, 17], 64)),
             "input_type_ids": tf.zeros((2, 64), tf.int32), "p_mask": tf.ones((2, 64), tf.int32),
             "label_ids": tf.constant([0, 1])}

    trimmed = trim_batch(batch)

    assert PAD_MULTIPLE == 16
    assert {name: tuple(value.shape) for name, value in trimmed.items()} == {
        "input_word_ids": (2, 32), "input_mask": (2, 32), "input_type_ids": (2, 32), "p_mask": (2, 32),
        "label_ids": (2,)}
    np.testing.assert_array_equal(trimmed["input_mask"], mask_of([3, 17], 32))


@pytest.mark.parametrize("lengths, max_length, expected", [
    ([[3, 5, 20, 4]], 128, 32),  # multiple choice: the longest choice of any example
    ([[16, 2]], 64, 16),  # a row exactly at a multiple needs no more
    ([[35, 2]], 40, 40),  # never past the features' length
    ([[40, 40]], 40, 40),
])
def test_the_padded_length_covers_every_real_token_of_every_choice(lengths, max_length, expected):
    assert int(padded_length(tf.constant(mask_of(lengths, max_length)))) == expected


def test_a_mask_with_holes_is_cut_after_its_last_real_token():
    assert int(padded_length(tf.constant([[1, 0] * 10 + [1] + [0] * 43]))) == 32


def test_training_batches_are_cut_and_an_epoch_still_holds_every_example_once(tmp_path):
    job = finetuner(tmp_path, tiny_classifier, True)
    features = varied_length_features(count=16)

    # 16 examples in batches of 4: a window of 4 batches is one epoch
    batches = list(job._training_batches(features).take(4).as_numpy_iterator())

    lengths = [batch["input_mask"].shape[1] for batch in batches]
    assert lengths == [-(-batch["input_mask"].sum(1).max() // PAD_MULTIPLE) * PAD_MULTIPLE for batch in batches]
    assert min(lengths) < SEQ
    seen = sorted(tuple(row[:row.nonzero()[0].max() + 1]) for batch in batches for row in batch["input_word_ids"])
    every = sorted(tuple(f["input_word_ids"][:f["input_mask"].sum()]) for f in features.as_numpy_iterator())
    assert seen == every


def test_a_job_resumed_at_any_step_reads_the_batches_of_one_that_never_stopped(tmp_path):
    features = varied_length_features(count=20)  # windows of 5 batches, none ending an epoch
    job = finetuner(tmp_path, tiny_classifier, True)
    uninterrupted = list(job._training_batches(features).take(14).as_numpy_iterator())

    for step in (1, 3, 5, 7, 10):
        job.optimizer.iterations.assign(step)
        resumed = list(job._training_batches(features).take(14 - step).as_numpy_iterator())
        for ours, theirs in zip(resumed, uninterrupted[step:], strict=True):
            for name in theirs:
                np.testing.assert_array_equal(ours[name], theirs[name])


def test_a_resumed_job_with_dynamic_padding_ends_with_the_weights_of_one_that_never_stopped(tmp_path):
    settings = dict(num_train_steps=5, save_checkpoints_steps=2, learning_rate=1e-2)
    features = varied_length_features(count=12)  # windows of 3 batches: step 4 is inside the second
    whole = finetuner(tmp_path / "whole", tiny_classifier, True, **settings)
    whole.train(features)

    class Stopped(Exception):
        pass

    def stop_at_step_4():
        if stopped.step == 4:
            raise Stopped
        return {"accuracy": 0.5}
    stopped = finetuner(tmp_path / "stopped", tiny_classifier, True, **settings)
    with pytest.raises(Stopped):
        stopped.train(features, evaluate=stop_at_step_4, selection_metric="accuracy")
    resumed = finetuner(tmp_path / "stopped", tiny_classifier, True, **settings)
    resumed.train(features)

    for ours, uninterrupted in zip(resumed.model.get_weights(), whole.model.get_weights(), strict=True):
        np.testing.assert_array_equal(ours, uninterrupted)


@pytest.mark.parametrize("task_name", ["SST-2", "CoLA"])
def test_eval_metrics_are_those_of_fixed_padding(task_name, tmp_path):
    task = glue.get_task(task_name)
    features = varied_length_features(count=27)  # a last batch that needs filling
    labels = np.array([f["label_ids"] for f in features.as_numpy_iterator()])
    fixed, dynamic = fixed_and_dynamic(tmp_path, tiny_classifier)

    fixed_logits = fixed.predict(features, 8)["logits"]
    dynamic_logits = dynamic.predict(features, 8)["logits"]

    np.testing.assert_allclose(dynamic_logits, fixed_logits, atol=ATOL)
    assert glue.task_metrics(task, labels, dynamic_logits) == glue.task_metrics(task, labels, fixed_logits)


def test_mirrored_predictions_with_dynamic_padding_are_those_of_one_device_with_fixed_padding(tmp_path):
    features = varied_length_features(count=11)
    fixed, mirrored = fixed_and_dynamic(tmp_path, tiny_classifier,
                                        two_cpu_mirrored_strategy())

    np.testing.assert_allclose(mirrored.predict(features, 4)["logits"], fixed.predict(features, 4)["logits"],
                               atol=ATOL)


def test_mirrored_training_on_batches_cut_to_changing_lengths_matches_one_device(tmp_path):
    # Sorted by length, one batch is cut to 16 tokens and the other to 32: within one loop of
    # steps the embedding's sparse gradient would change shape, which the replicas' gather fails on.
    lengths = [5, 5, 5, 5, 5, 5, 30, 30]
    features = tf.data.Dataset.from_tensor_slices({
        "input_word_ids": (np.full((8, SEQ), 7) * mask_of(lengths)).astype(np.int32), "input_mask": mask_of(lengths),
        "input_type_ids": np.zeros((8, SEQ), np.int32), "label_ids": np.array([0, 1] * 4, np.int32)})
    without_dropout = functools.partial(tiny_classifier, classifier_dropout=0)  # replicas draw other dropout masks
    settings = dict(num_train_steps=2, save_checkpoints_steps=2, steps_per_loop=2)
    one_device = finetuner(tmp_path / "one", without_dropout, True, **settings)
    mirrored = finetuner(tmp_path / "mirrored", without_dropout, True,
                         two_cpu_mirrored_strategy(), **settings)
    mirrored.model.set_weights(one_device.model.get_weights())

    one_device.train(features)
    mirrored.train(features)

    for ours, theirs in zip(mirrored.model.get_weights(), one_device.model.get_weights(), strict=True):
        np.testing.assert_allclose(ours, theirs, atol=REPLICA_ATOL)


def test_multiple_choice_predictions_are_those_of_fixed_padding(tmp_path):
    features = varied_length_features(count=6, shape=(4,), num_labels=4)
    fixed, dynamic = fixed_and_dynamic(tmp_path, lambda dtype: AlbertMultipleChoice(TINY, 4, dtype=dtype))

    fixed_logits = fixed.predict(features, 4)["logits"]
    dynamic_logits = dynamic.predict(features, 4)["logits"]

    np.testing.assert_allclose(dynamic_logits, fixed_logits, atol=ATOL)
    np.testing.assert_array_equal(dynamic_logits.argmax(-1), fixed_logits.argmax(-1))


@pytest.mark.parametrize("version_2_with_negative", [False, True])
def test_squad_answers_are_those_of_fixed_padding(version_2_with_negative, tmp_path):
    max_seq_length = 64  # the windows hold about 25 tokens: cut to 32
    _, examples, windows, _ = features_for(max_seq_length=max_seq_length, doc_stride=8, is_training=False)
    features = tf.data.Dataset.from_tensor_slices(
        {name: np.array([squad_data.feature_arrays(w, False)[name] for w in windows], np.int32)
         for name in squad_data.feature_spec(max_seq_length, False)})
    config = AlbertConfig(vocab_size=FullTokenizer(SAMPLE_MODEL).vocab_size, embedding_size=8, hidden_size=16,
                          num_hidden_layers=2, num_attention_heads=2, intermediate_size=32,
                          max_position_embeddings=max_seq_length)
    fixed, dynamic = fixed_and_dynamic(
        tmp_path, lambda dtype: AlbertQuestionAnswerer(config, version_2_with_negative, dtype=dtype))

    fixed_outputs = fixed.predict(features, 2)
    dynamic_outputs = dynamic.predict(features, 2)

    assert max(sum(window.input_mask) for window in windows) <= 32
    # Token outputs come back at the full length, the rest as they are.
    assert {key: value.shape for key, value in dynamic_outputs.items()} == {
        key: value.shape for key, value in fixed_outputs.items()}
    if version_2_with_negative:
        for key in ("start_top_index", "end_top_index"):
            np.testing.assert_array_equal(dynamic_outputs[key], fixed_outputs[key])
        # p_mask gives padding about -1e30 in fixed padding too
        for key in ("start_log_probs", "start_top_log_probs", "end_top_log_probs", "cls_logits"):
            np.testing.assert_allclose(dynamic_outputs[key], fixed_outputs[key], atol=ATOL)
    else:
        # Positions past the cut score CUT_POSITION_SCORE, so no ranking picks them; the fixed
        # model's padding logits are ranked and then rejected (never in a window's context).
        np.testing.assert_array_equal(dynamic_outputs["start_logits"][:, 32:], np.float32(CUT_POSITION_SCORE))
        np.testing.assert_allclose(dynamic_outputs["start_logits"][:, :32], fixed_outputs["start_logits"][:, :32],
                                   atol=ATOL)
    # n_best_size past max_seq_length: padding takes no candidate's place in fixed padding either
    fixed_answers = squad_postprocess.decode(examples, windows, fixed_outputs, n_best_size=max_seq_length,
                                             version_2_with_negative=version_2_with_negative)
    dynamic_answers = squad_postprocess.decode(examples, windows, dynamic_outputs, n_best_size=max_seq_length,
                                               version_2_with_negative=version_2_with_negative)
    assert dynamic_answers[0] == fixed_answers[0]
    assert ([entry["text"] for entry in dynamic_answers[1]["q"]] == [entry["text"] for entry in fixed_answers[1]["q"]])
    if version_2_with_negative:
        assert dynamic_answers[2]["q"] == pytest.approx(fixed_answers[2]["q"], abs=ATOL)
