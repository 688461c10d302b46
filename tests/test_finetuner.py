"""The fine-tuning loop: resuming where a stopped job stopped, on the batches it would have seen."""

import numpy as np
import pytest
import tensorflow as tf

from albert_tf import AlbertClassifier
from albert_tf.finetuning.trainer import Finetuner, FinetuningConfig
from tests.test_pretraining import SEQ, TINY, VOCAB

ONE_DEVICE = "/cpu:0"


def tiny_classifier(dtype="float32", classifier_dropout=0.1):
    return AlbertClassifier(TINY, num_labels=2, classifier_dropout=classifier_dropout, dtype=dtype)


def classification_features(count=16):
    rng = np.random.default_rng(0)
    return tf.data.Dataset.from_tensor_slices({
        "input_word_ids": rng.integers(5, VOCAB, (count, SEQ)).astype(np.int32),
        "input_mask": np.ones((count, SEQ), np.int32), "input_type_ids": np.zeros((count, SEQ), np.int32),
        "label_ids": rng.integers(0, 2, count).astype(np.int32)})


def classification_loss(outputs, batch):
    return tf.keras.losses.sparse_categorical_crossentropy(batch["label_ids"], outputs["logits"], from_logits=True)


def finetuner(tmp_path, **overrides):
    fields = dict(output_dir=str(tmp_path / "out"), train_batch_size=4, optimizer="lamb", learning_rate=1e-3,
                  num_train_steps=2, save_checkpoints_steps=1, steps_per_loop=1, keep_checkpoint_max=0)
    fields.update(overrides)
    return Finetuner(tf.distribute.OneDeviceStrategy(ONE_DEVICE), tiny_classifier, classification_loss,
                     FinetuningConfig(**fields))


class Stopped(Exception):
    """Stands for the job being killed right after a checkpoint was saved and evaluated."""


def test_a_resumed_job_ends_with_the_weights_of_one_that_never_stopped(tmp_path):
    settings = dict(num_train_steps=6, save_checkpoints_steps=2, learning_rate=1e-2, train_batch_size=4)
    whole = finetuner(tmp_path / "whole", **settings)
    whole.train(classification_features(count=10))

    stopped = finetuner(tmp_path / "stopped", **settings)

    def stop_at_step_4():
        if stopped.step == 4:
            raise Stopped
        return {"accuracy": 0.5}
    with pytest.raises(Stopped):
        stopped.train(classification_features(count=10), evaluate=stop_at_step_4, selection_metric="accuracy")
    resumed = finetuner(tmp_path / "stopped", **settings)
    resumed.train(classification_features(count=10))

    for ours, uninterrupted in zip(resumed.model.get_weights(), whole.model.get_weights()):
        np.testing.assert_array_equal(ours, uninterrupted)


def test_a_checkpoint_saved_but_not_evaluated_before_a_stop_is_evaluated_on_resuming(tmp_path):
    evaluated = []

    def evaluate_unless_stopping():
        if job.step == 2 and not evaluated:
            evaluated.append("stopped")
            raise Stopped
        evaluated.append(job.step)
        return {"accuracy": 0.5}
    job = finetuner(tmp_path, num_train_steps=4, save_checkpoints_steps=2)
    with pytest.raises(Stopped):
        job.train(classification_features(), evaluate=evaluate_unless_stopping, selection_metric="accuracy")
    job = finetuner(tmp_path, num_train_steps=4, save_checkpoints_steps=2)

    job.train(classification_features(), evaluate=evaluate_unless_stopping, selection_metric="accuracy")

    assert evaluated == ["stopped", 2, 4]
