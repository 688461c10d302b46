import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import pytest
import tensorflow as tf

from albert_tf import AlbertConfig


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


def run_script(script, *flags, timeout=600):
    """Runs `python run/<script> flags...` as a user would; returns the completed process."""
    import subprocess
    import sys

    env = dict(os.environ, PYTHONPATH=REPO_ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    result = subprocess.run([sys.executable, os.path.join(REPO_ROOT, "run", script), *map(str, flags)],
                            env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{script} failed:\n{result.stdout}\n{result.stderr}"
    return result
