import dataclasses

import numpy as np
import pytest

from albert_tf import (AlbertClassifier, CheckpointMismatchError, AlbertMultipleChoice, AlbertPretrainer, AlbertQuestionAnswerer,
                       load_checkpoint)
from albert_tf.checkpoint.native import save_native_checkpoint
from tests.harness import check_keras_save_load, outputs_close, weights_sharing_a_draw

# float32 Keras vs float64 NumPy on a tiny model.
HEAD_ATOL = 1e-5


def encoder_inputs(batch):
    return {k: batch[k] for k in ("input_word_ids", "input_mask", "input_type_ids")}


def dense(layer, x):
    kernel, *bias = (np.asarray(w, np.float64) for w in layer.get_weights())
    return x @ kernel + (bias[0] if bias else 0.0)


def layer_norm(layer, x):
    gamma, beta = (np.asarray(w, np.float64) for w in layer.get_weights())
    mean, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + 1e-12) * gamma + beta


def log_softmax(x):
    x = x - x.max(-1, keepdims=True)
    return x - np.log(np.exp(x).sum(-1, keepdims=True))


def p_mask_for(batch):
    p_mask = 1 - np.asarray(batch["input_mask"])
    p_mask[:, 1:3] = 1  # a two-token "question"
    return p_mask.astype(np.int32)


def test_classifier_logits_are_a_dense_layer_on_the_pooled_output(grouped_config, padded_batch):
    model = AlbertClassifier(grouped_config, num_labels=3)

    logits = model(encoder_inputs(padded_batch))["logits"]

    pooled = np.asarray(model.encoder(encoder_inputs(padded_batch))["pooled_output"], np.float64)
    np.testing.assert_allclose(logits, dense(model.classifier, pooled), atol=HEAD_ATOL)


def test_multiple_choice_scores_each_choice_as_its_own_sequence(grouped_config, padded_batch):
    model = AlbertMultipleChoice(grouped_config, num_choices=3)
    choices = {k: v[None] for k, v in encoder_inputs(padded_batch).items()}  # one example, 3 choices

    logits = model(choices)["logits"]

    pooled = np.asarray(model.encoder(encoder_inputs(padded_batch))["pooled_output"], np.float64)
    np.testing.assert_allclose(logits, dense(model.scorer, pooled).reshape(1, 3), atol=HEAD_ATOL)


def v2_reference(model, batch, start_index):
    """The original create_v2_model in NumPy: end log-probs given one start per example, and cls logits."""
    sequence = np.asarray(model.encoder(encoder_inputs(batch))["sequence_output"], np.float64)
    p_mask = p_mask_for(batch)
    start_logits = dense(model.start_head, sequence)[..., 0] * (1 - p_mask) - 1e30 * p_mask
    start_log_probs = log_softmax(start_logits)
    start_feature = sequence[np.arange(len(sequence)), start_index]
    pair = np.concatenate([sequence, np.broadcast_to(start_feature[:, None], sequence.shape)], -1)
    end_head = model.end_head
    end_logits = dense(end_head.dense_1, layer_norm(end_head.layer_norm, np.tanh(dense(end_head.dense_0, pair))))
    end_log_probs = log_softmax(end_logits[..., 0] * (1 - p_mask) - 1e30 * p_mask)
    expected_start = np.einsum("bt,bth->bh", np.exp(start_log_probs), sequence)
    answer = model.answerability_head
    cls = dense(answer.dense_1, np.tanh(dense(answer.dense_0, np.concatenate([expected_start, sequence[:, 0]], -1))))
    return start_log_probs, end_log_probs, cls[:, 0]


def test_squad_v1_logits_are_one_dense_layer_on_every_token(grouped_config, padded_batch):
    model = AlbertQuestionAnswerer(grouped_config)

    outputs = model(encoder_inputs(padded_batch))

    sequence = np.asarray(model.encoder(encoder_inputs(padded_batch))["sequence_output"], np.float64)
    logits = dense(model.span_head.dense, sequence)
    outputs_close([outputs["start_logits"], outputs["end_logits"]], [logits[..., 0], logits[..., 1]], atol=HEAD_ATOL)


def test_squad_v2_heads_have_the_originals_variables(grouped_config):
    model = AlbertQuestionAnswerer(grouped_config, version_2_with_negative=True)
    hidden = grouped_config.hidden_size

    encoder_weights = {id(w) for w in model.encoder.weights}
    shapes = {w.path.split("/", 1)[1]: tuple(w.shape) for w in model.weights if id(w) not in encoder_weights}

    # start_logits/dense, end_logits/{dense_0, LayerNorm, dense_1}, answer_class/{dense_0, dense_1 (no bias)}.
    assert shapes == {
        "start_head/kernel": (hidden, 1), "start_head/bias": (1,),
        "end_head/dense_0/kernel": (2 * hidden, hidden), "end_head/dense_0/bias": (hidden,),
        "end_head/layer_norm/gamma": (hidden,), "end_head/layer_norm/beta": (hidden,),
        "end_head/dense_1/kernel": (hidden, 1), "end_head/dense_1/bias": (1,),
        "answerability_head/dense_0/kernel": (2 * hidden, hidden), "answerability_head/dense_0/bias": (hidden,),
        "answerability_head/dense_1/kernel": (hidden, 1)}


@pytest.mark.parametrize("make", [lambda c, rate: AlbertClassifier(c, num_labels=3, classifier_dropout=rate),
                                  lambda c, rate: AlbertMultipleChoice(c, num_choices=3, dropout_rate=rate)],
                         ids=["classifier", "multiple_choice"])
def test_head_dropout_acts_in_training_only_at_the_given_rate(make, grouped_config, padded_batch):
    inputs = encoder_inputs(padded_batch)
    model = make(grouped_config, 0.5)
    zero = make(grouped_config, 0.0)
    zero.set_weights(model.get_weights())
    if isinstance(model, AlbertMultipleChoice):
        inputs = {k: v[None] for k, v in inputs.items()}

    outputs = [np.asarray(m(inputs, training=t)["logits"]) for m, t in ((model, True), (model, False), (zero, True))]

    # The encoder's own dropouts are 0 in this config: only the head's dropout can change the logits.
    assert not np.allclose(outputs[0], outputs[1]) and np.allclose(outputs[2], outputs[1], atol=HEAD_ATOL)


def test_squad_v2_training_outputs_match_the_original_equations(grouped_config, padded_batch):
    model = AlbertQuestionAnswerer(grouped_config, version_2_with_negative=True)
    gold_start = np.array([4, 3, 0], np.int32)

    outputs = model({**encoder_inputs(padded_batch), "p_mask": p_mask_for(padded_batch), "start_positions": gold_start})

    start, end, cls = v2_reference(model, padded_batch, gold_start)
    # Masked positions hold about -1e30 on both sides; compare them as "below -1e4".
    ours = [np.maximum(outputs[k], -1e4) for k in ("start_log_probs", "end_log_probs", "cls_logits")]
    outputs_close(ours, [np.maximum(start, -1e4), np.maximum(end, -1e4), cls], atol=HEAD_ATOL)


def test_squad_v2_inference_ends_are_the_best_ends_of_each_top_start(grouped_config, padded_batch):
    model = AlbertQuestionAnswerer(grouped_config, version_2_with_negative=True, start_n_top=2, end_n_top=3)

    outputs = model({**encoder_inputs(padded_batch), "p_mask": p_mask_for(padded_batch)})

    for k in range(2):
        _, end, _ = v2_reference(model, padded_batch, np.asarray(outputs["start_top_index"])[:, k])
        np.testing.assert_allclose(outputs["end_top_log_probs"][:, k], -np.sort(-end, -1)[:, :3], atol=HEAD_ATOL)


def test_masked_positions_are_never_top_starts(grouped_config, padded_batch):
    # The shortest example has a single selectable position ([CLS]), so one start per example.
    model = AlbertQuestionAnswerer(grouped_config, version_2_with_negative=True, start_n_top=1)
    p_mask = p_mask_for(padded_batch)

    starts = np.asarray(model({**encoder_inputs(padded_batch), "p_mask": p_mask})["start_top_index"])

    assert not np.take_along_axis(p_mask, starts, axis=1).any()


TASK_MODELS = {
    "classifier": lambda c: AlbertClassifier(c, num_labels=3),
    "regressor": lambda c: AlbertClassifier(c, num_labels=1, classifier_dropout=0.2),
    "multiple_choice": lambda c: AlbertMultipleChoice(c, num_choices=4),
    "squad_v1": lambda c: AlbertQuestionAnswerer(c),
    "squad_v2": lambda c: AlbertQuestionAnswerer(c, version_2_with_negative=True, start_n_top=2, end_n_top=2),
}


@pytest.mark.parametrize("name", sorted(TASK_MODELS))
def test_every_weight_of_a_new_task_model_is_its_own_random_draw(name, grouped_config):
    model = TASK_MODELS[name](grouped_config)

    assert weights_sharing_a_draw(model) == []


@pytest.mark.parametrize("make", [TASK_MODELS[name] for name in ("regressor", "squad_v1", "squad_v2")],
                         ids=["regressor", "squad_v1", "squad_v2"])
def test_task_models_survive_keras_save_load(make, grouped_config, padded_batch, tmp_path):
    inputs = {**encoder_inputs(padded_batch), "p_mask": p_mask_for(padded_batch)}

    check_keras_save_load(make(grouped_config), inputs, tmp_path)


def test_a_checkpoint_without_the_task_head_is_refused_unless_allowed(grouped_config, tmp_path):
    prefix = save_native_checkpoint(AlbertPretrainer(grouped_config), str(tmp_path / "pretrained"))

    with pytest.raises(CheckpointMismatchError, match=r"has no \['classifier'\]"):
        load_checkpoint(AlbertClassifier(grouped_config, num_labels=2), prefix)


def test_task_model_starts_from_a_training_checkpoint_whose_variables_are_named_through_the_optimizer(
        grouped_config, padded_batch, tmp_path):
    import keras
    import tensorflow as tf

    pretrainer = AlbertPretrainer(grouped_config)
    optimizer = keras.optimizers.Adam()
    optimizer.build(pretrainer.trainable_variables)
    prefix = tf.train.Checkpoint(model=pretrainer, optimizer=optimizer).write(str(tmp_path / "ckpt-1"))
    model = AlbertClassifier(grouped_config, num_labels=2)

    load_checkpoint(model, prefix, allow_missing_heads=True)

    outputs_close(model.encoder(encoder_inputs(padded_batch)), pretrainer.encoder(encoder_inputs(padded_batch)), atol=0)


def test_a_resumed_training_checkpoint_counts_saves_on_from_the_saved_count(grouped_config, tmp_path):
    import tensorflow as tf

    from albert_tf.checkpoint.native import restore_training_checkpoint, training_checkpoint

    model = AlbertClassifier(dataclasses.replace(grouped_config, hidden_dropout_prob=0.1), num_labels=2)
    first = tf.train.CheckpointManager(training_checkpoint(model), str(tmp_path), max_to_keep=None)
    for step in (1, 2, 3):
        first.save(checkpoint_number=step)
    resumed = training_checkpoint(model)

    restore_training_checkpoint(resumed, first.latest_checkpoint).assert_existing_objects_matched()

    assert int(resumed.save_counter) == 3


def test_a_training_checkpoint_without_dropout_streams_restores_with_its_save_count(grouped_config, tmp_path):
    import tensorflow as tf

    from albert_tf.checkpoint.native import restore_training_checkpoint, training_checkpoint

    model = AlbertClassifier(dataclasses.replace(grouped_config, hidden_dropout_prob=0.1), num_labels=2)
    older = tf.train.CheckpointManager(tf.train.Checkpoint(model=model), str(tmp_path), max_to_keep=None)
    for step in (1, 2):
        older.save(checkpoint_number=step)
    resumed = training_checkpoint(model)
    assert resumed.dropout_seeds, "the model must have dropout streams for the older layout to lack them"

    restore_training_checkpoint(resumed, older.latest_checkpoint).assert_existing_objects_matched()

    assert int(resumed.save_counter) == 2

