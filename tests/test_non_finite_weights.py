"""Weights with a NaN or an infinity are never saved under a final name, chosen as best, loaded or served."""

import math

import numpy as np
import pytest
import tensorflow as tf

from albert_tf import AlbertClassifier, AlbertConfig, NonFiniteWeightsError, load_checkpoint
from albert_tf.checkpoint import save_native_checkpoint, save_original_checkpoint
from albert_tf.training.pretraining import Pretraining, run_pretraining
from tests.conftest import run_script, write_pretraining_records
from tests.test_finetuner import classification_features, finetuner, tiny_classifier
from tests.test_glue import SAMPLE_MODEL, classifier_flags
from tests.test_pretraining import PREDICTIONS, SEQ, TINY, VOCAB, job

# float32's largest learning rate: LAMB's update (about lr * |w|) overflows the weights in the very
# step that uses it, so the loss the loop reports (computed before that step) is still finite.
OVERFLOWING_LEARNING_RATE = 3.4e38
ONE_DEVICE = "/cpu:0"
SAMPLE_CONFIG = "run/configs/albert_tiny.json"


def non_finite_checkpoints(folder):
    """The checkpoints under `folder` holding a NaN or infinity, read without albert_tf."""
    found = []
    for index in sorted(folder.glob("**/*.index")):
        reader = tf.train.load_checkpoint(str(index)[:-len(".index")])
        dtypes = reader.get_variable_to_dtype_map()
        if any(dtypes[name].is_floating and not np.isfinite(reader.get_tensor(name)).all() for name in dtypes):
            found.append(index.name)
    return found


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    folder = tmp_path_factory.mktemp("shards")
    return [write_pretraining_records(folder / f"shard-{i}.tfrecord", 32, SEQ, PREDICTIONS, VOCAB, seed=i)
            for i in range(2)]


def test_pretraining_weights_that_overflow_on_a_loops_last_step_are_never_saved(tmp_path, shards):
    # Warmup gives step 1 a learning rate of 0, so ckpt-1 is good and step 2 overflows.
    config = job(tmp_path, shards, learning_rate=OVERFLOWING_LEARNING_RATE, num_warmup_steps=2, num_train_steps=4,
                 steps_per_loop=1, save_checkpoints_steps=1)

    with pytest.raises(FloatingPointError, match=r"weights became non-finite by step 2 .* last good checkpoint is "
                                                 r"\S*ckpt-1\b"):
        run_pretraining(tf.distribute.OneDeviceStrategy(ONE_DEVICE), TINY, config)

    assert non_finite_checkpoints(tmp_path / "out") == [] and (tmp_path / "out" / "ckpt-1.index").exists()


def test_pretraining_refuses_to_resume_from_a_checkpoint_with_non_finite_weights(tmp_path, shards):
    config = job(tmp_path, shards, num_train_steps=2)
    earlier = Pretraining(tf.distribute.OneDeviceStrategy(ONE_DEVICE), TINY, config)
    earlier.model.weights[0].assign(tf.fill(earlier.model.weights[0].shape, math.nan))
    earlier.manager.save(checkpoint_number=1)

    with pytest.raises(NonFiniteWeightsError, match=r"last checkpoint \S*ckpt-1 holds non-finite weights in 1 "):
        run_pretraining(tf.distribute.OneDeviceStrategy(ONE_DEVICE), TINY, config)


def test_fine_tuning_weights_that_overflow_on_a_loops_last_step_are_never_saved(tmp_path):
    job = finetuner(tmp_path, learning_rate=OVERFLOWING_LEARNING_RATE, num_warmup_steps=1, num_train_steps=3)

    with pytest.raises(FloatingPointError, match=r"weights became non-finite by step 2 .* last good checkpoint is "
                                                 r"\S*ckpt-1\b"):
        job.train(classification_features())

    assert non_finite_checkpoints(tmp_path / "out") == [] and (tmp_path / "out" / "ckpt-1.index").exists()


def test_an_evaluation_with_a_non_finite_loss_never_makes_the_best_checkpoint(tmp_path):
    # A diverged model predicts one class everywhere and can score well; its loss gives it away.
    results_by_step = {1: {"accuracy": 0.6, "loss": 0.7}, 2: {"accuracy": 0.9, "loss": math.nan}}
    job = finetuner(tmp_path)

    job.train(classification_features(), evaluate=lambda: results_by_step[job.step], selection_metric="accuracy")

    assert (tmp_path / "out" / "best_trial.txt").read_text() == "1:accuracy:0.6\n"


def checkpoint_with_a_nan_weight(prefix, save):
    model = tiny_classifier()
    model.encoder.weights[0].assign(tf.fill(model.encoder.weights[0].shape, math.nan))
    return save(model, str(prefix))


@pytest.mark.parametrize("save", [save_native_checkpoint, save_original_checkpoint], ids=["native", "original"])
def test_loading_a_checkpoint_with_a_nan_weight_names_it_and_the_variable(tmp_path, save):
    path = checkpoint_with_a_nan_weight(tmp_path / "diverged", save)
    model = tiny_classifier()

    with pytest.raises(NonFiniteWeightsError, match=rf"{path} holds non-finite weights in 1 variable\(s\), "
                                                    r"e\.g\. \S*embeddings"):
        load_checkpoint(model, path)


@pytest.fixture(scope="module")
def sample_checkpoint_with_a_nan_weight(tmp_path_factory):
    """The sample classifier (albert_tiny, 2 labels) with NaN word embeddings, as model.ckpt-best of an output_dir."""
    output_dir = tmp_path_factory.mktemp("diverged")
    model = AlbertClassifier(AlbertConfig.from_json_file(SAMPLE_CONFIG), num_labels=2)
    embeddings = model.encoder.weights[0]
    embeddings.assign(tf.fill(embeddings.shape, math.nan))
    tf.train.Checkpoint(model=model).write(str(output_dir / "model.ckpt-best"))
    return output_dir


def test_prediction_refuses_a_best_checkpoint_with_non_finite_weights(sample_checkpoint_with_a_nan_weight):
    result = run_script("run_classifier.py", *classifier_flags(sample_checkpoint_with_a_nan_weight, "--do_predict"),
                        expect_failure=True)

    assert "model.ckpt-best holds non-finite weights" in result.stderr and "Traceback" not in result.stderr


def test_export_refuses_a_checkpoint_with_non_finite_weights(sample_checkpoint_with_a_nan_weight, tmp_path):
    checkpoint = sample_checkpoint_with_a_nan_weight / "model.ckpt-best"
    result = run_script("export_saved_model.py", f"--init_checkpoint={checkpoint}",
                        f"--albert_config_file={SAMPLE_CONFIG}", f"--spm_model_file={SAMPLE_MODEL}",
                        "--task=classifier", "--task_name=SST-2", "--max_seq_length=64", f"--export_dir={tmp_path / 'export'}",
                        expect_failure=True)

    assert "holds non-finite weights" in result.stderr and not (tmp_path / "export").exists()
