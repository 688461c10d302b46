import itertools
import logging
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import random

import numpy as np
import pytest
import tensorflow as tf

from albert_tf import AlbertConfig
from albert_tf.training.strategy import split_cpu

# Two logical CPUs for the whole session, before any op runs, so MirroredStrategy tests run
# in-process; everything else keeps running on /cpu:0.
split_cpu(2)

_COLLECTIVE_KEY_BASES = itertools.count(1000, 1000)


def two_cpu_mirrored_strategy():
    """A MirroredStrategy over the two logical CPUs, with collective keys of its own.

    Strategies in one process otherwise number their collectives alike, and the runtime keeps
    what it learned of an earlier strategy's collective under that number: a later strategy's
    collective of another shape then aborts with a shape mismatch. A job runs one strategy per
    process; TensorFlow's own tests set this class attribute for the same reason."""
    tf.distribute.MirroredStrategy._collective_key_base = next(_COLLECTIVE_KEY_BASES)
    try:
        return tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    finally:
        tf.distribute.MirroredStrategy._collective_key_base = 0


@pytest.fixture(autouse=True)
def seeded_weights():
    """Every test starts from the same random state, so a property that holds for "a" random model
    is checked on the same model in every run (an unseeded run once drew a SQuAD head with no valid span).

    Keras draws unseeded initializer seeds from Python's `random`. Not `keras.utils.set_random_seed`:
    its `tf.random.set_seed` clears the eager kernel cache, and with it the SentencePiece resources
    of tokenizers built earlier in the session (tensorflow/text#570)."""
    random.seed(0)
    np.random.seed(0)


@pytest.fixture
def absl_log(caplog):
    """`caplog` for messages logged through absl, at INFO and above.

    Once absl's own handler is installed (any in-process `app.run`, or absl flags parsing), the
    absl logger stops propagating to the root logger that `caplog` listens on; listen on it here."""
    logger = logging.getLogger("absl")
    level, propagate = logger.level, logger.propagate
    logger.addHandler(caplog.handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False  # else a record would also reach caplog through the root logger
    yield caplog
    logger.removeHandler(caplog.handler)
    logger.setLevel(level)
    logger.propagate = propagate


@pytest.fixture
def grouped_config():
    """Small, but with everything that varies: E != H, 2 groups over 3 layers, 2 inner groups."""
    return AlbertConfig(vocab_size=97, embedding_size=8, hidden_size=16, num_hidden_layers=3, num_hidden_groups=2,
                        inner_group_num=2, num_attention_heads=4, intermediate_size=24, max_position_embeddings=32)


@pytest.fixture
def padded_batch():
    """Three sequences of length 10, two of them padded at the end, with masked positions."""
    rng = np.random.default_rng(7)
    lengths = np.array([10, 6, 3])
    mask = (np.arange(10)[None, :] < lengths[:, None]).astype(np.int32)
    return {
        "input_word_ids": rng.integers(5, 97, (3, 10)).astype(np.int32) * mask,
        "input_mask": mask,
        "input_type_ids": ((np.arange(10)[None, :] >= lengths[:, None] // 2) * mask).astype(np.int32),
        "masked_lm_positions": np.array([[1, 4, 8], [2, 5, 0], [1, 0, 0]], np.int32),
    }


def write_tf1_checkpoint(weights, prefix):
    """Writes {name: array} the way the original release did: graph-mode tf.compat.v1 Saver."""
    with tf.Graph().as_default():
        variables = [tf.compat.v1.Variable(value, name=name) for name, value in weights.items()]
        global_step = tf.compat.v1.Variable(np.int64(1000), name="global_step")
        slot = tf.compat.v1.Variable(np.zeros((2,), np.float32), name="bert/pooler/dense/bias/adam_m")
        saver = tf.compat.v1.train.Saver(variables + [global_step, slot])
        with tf.compat.v1.Session() as session:
            session.run(tf.compat.v1.global_variables_initializer())
            return saver.save(session, prefix)


REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_script(script, *flags, timeout=600, expect_failure=False, env=None):
    """Runs `python run/<script> flags...` as a user would; returns the completed process.

    It must succeed, or with `expect_failure` fail (for tests of error messages). `env`: variables
    to set beside the test's environment (None: to remove)."""
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": REPO_ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""), **(env or {})}
    env = {key: value for key, value in env.items() if value is not None}
    result = subprocess.run([sys.executable, os.path.join(REPO_ROOT, "run", script), *map(str, flags)],
                            env=env, capture_output=True, text=True, timeout=timeout)
    if expect_failure:
        assert result.returncode != 0, f"{script} succeeded where it should fail:\n{result.stderr}"
    else:
        assert result.returncode == 0, f"{script} failed:\n{result.stdout}\n{result.stderr}"
    return result


def finished_process_id():
    """The pid of a process that has ended (as a killed writer's has)."""
    import subprocess
    import sys

    finished = subprocess.Popen([sys.executable, "-c", "pass"])
    finished.wait()
    return finished.pid


@pytest.fixture(scope="session")
def pretrained_tiny_checkpoint(tmp_path_factory):
    """The tiny model pretrained for 300 steps on the sample shards (as the quickstart, shorter)."""
    output_dir = tmp_path_factory.mktemp("pretrained")
    run_script("pretrain.py", "--flagfile=run/flags/quickstart.flags", f"--output_dir={output_dir}",
               "--num_train_steps=300", "--num_warmup_steps=30", "--save_checkpoints_steps=300", "--nodo_eval")
    return str(output_dir / "ckpt-300")


def write_pretraining_records(path, num_records, seq_length, max_predictions, vocab_size, seed=0, weight=1.0):
    """Random records in the original create_pretraining_data schema (int64 / float32 features)."""
    rng = np.random.default_rng(seed)
    with tf.io.TFRecordWriter(str(path)) as writer:
        for _ in range(num_records):
            length = int(rng.integers(seq_length // 2, seq_length + 1))
            ids = np.zeros(seq_length, np.int64)
            ids[:length] = rng.integers(5, vocab_size, length)
            num_predictions = int(rng.integers(1, max_predictions + 1))
            positions = np.zeros(max_predictions, np.int64)
            positions[:num_predictions] = np.sort(rng.choice(np.arange(1, length), num_predictions, replace=False))
            features = {
                "input_ids": ids,
                "input_mask": (np.arange(seq_length) < length).astype(np.int64),
                "segment_ids": ((np.arange(seq_length) >= length // 2) & (np.arange(seq_length) < length)).astype(np.int64),
                "token_boundary": np.ones(seq_length, np.int64),
                "masked_lm_positions": positions,
                "masked_lm_ids": np.where(np.arange(max_predictions) < num_predictions,
                                          rng.integers(5, vocab_size, max_predictions), 0).astype(np.int64),
                "next_sentence_labels": np.array([rng.integers(0, 2)], np.int64),
            }
            example = {k: tf.train.Feature(int64_list=tf.train.Int64List(value=v)) for k, v in features.items()}
            example["masked_lm_weights"] = tf.train.Feature(float_list=tf.train.FloatList(
                value=np.where(np.arange(max_predictions) < num_predictions, weight, 0.0)))
            writer.write(tf.train.Example(features=tf.train.Features(feature=example)).SerializeToString())
    return str(path)
