import json
import os
import re
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from albert_tf import AlbertPretrainer
from albert_tf.checkpoint.names import original_variable_map
from albert_tf.optimization import AdamWeightDecay, Lamb, create_optimizer

# Paths as our model names them; "layer_norm" and "bias" must be caught by the default regexes.
INITIAL_WEIGHTS = {
    "dense/kernel": np.linspace(-1.0, 1.0, 6).reshape(2, 3),
    "layer_norm/gamma": np.array([1.0, 0.5, 2.0]),
    "dense/bias": np.array([0.1, -0.2, 0.3]),
    "zero_init/kernel": np.zeros(4),  # ||w|| = 0: LAMB must fall back to a ratio of 1
}
EXCLUDED_BY_NAME = {"layer_norm/gamma", "dense/bias"}
WEIGHT_DECAY_RATE, BETA_1, BETA_2, EPSILON = 0.01, 0.9, 0.999, 1e-6
# float32 against a float64 re-derivation over a few steps: a few ulps.
RTOL, ATOL = 1e-6, 1e-7


def make_variables():
    variables = []
    for path, value in INITIAL_WEIGHTS.items():
        scope, name = path.rsplit("/", 1)
        with keras.name_scope(scope):
            variables.append(keras.Variable(value.astype("float32"), name=name))
    assert [v.path for v in variables] == list(INITIAL_WEIGHTS)
    return variables


def gradient_steps(num_steps, scales=None):
    rng = np.random.default_rng(0)
    scales = scales or [1.0] * num_steps
    return [{path: scale * rng.normal(size=w.shape) for path, w in INITIAL_WEIGHTS.items()}
            for scale in scales]


def numpy_reference(steps, learning_rates, layer_adaptation, clip_norm=None):
    """The original update rule, re-derived in float64 from its description."""
    weights = {path: w.astype("float64") for path, w in INITIAL_WEIGHTS.items()}
    m = {path: np.zeros_like(w) for path, w in weights.items()}
    v = {path: np.zeros_like(w) for path, w in weights.items()}
    for gradients, learning_rate in zip(steps, learning_rates):
        if clip_norm is not None:
            global_norm = np.sqrt(sum(np.sum(g ** 2) for g in gradients.values()))
            gradients = {p: g * clip_norm / max(global_norm, clip_norm) for p, g in gradients.items()}
        for path, w in weights.items():
            g = gradients[path]
            m[path] = BETA_1 * m[path] + (1 - BETA_1) * g
            v[path] = BETA_2 * v[path] + (1 - BETA_2) * g ** 2
            update = m[path] / (np.sqrt(v[path]) + EPSILON)
            ratio = 1.0
            if path not in EXCLUDED_BY_NAME:
                update = update + WEIGHT_DECAY_RATE * w
                w_norm, u_norm = np.linalg.norm(w), np.linalg.norm(update)
                if layer_adaptation and w_norm > 0 and u_norm > 0:
                    ratio = w_norm / u_norm
            weights[path] = w - ratio * learning_rate * update
    return weights


def apply_steps(optimizer, variables, steps):
    for gradients in steps:
        optimizer.apply([tf.constant(g, tf.float32) for g in gradients.values()], variables)
    return {v.path: v.numpy() for v in variables}


def assert_weights_close(actual, expected):
    for path in expected:
        np.testing.assert_allclose(actual[path], expected[path], rtol=RTOL, atol=ATOL, err_msg=path)


@pytest.mark.parametrize("optimizer_class, layer_adaptation", [(Lamb, True), (AdamWeightDecay, False)])
def test_updates_match_numpy_rederivation(optimizer_class, layer_adaptation):
    steps = gradient_steps(3)
    optimizer = optimizer_class(learning_rate=0.1)

    actual = apply_steps(optimizer, make_variables(), steps)

    assert_weights_close(actual, numpy_reference(steps, [0.1] * 3, layer_adaptation))


@pytest.mark.parametrize("optimizer_name, layer_adaptation", [("lamb", True), ("adamw", False)])
def test_create_optimizer_clips_global_norm_and_follows_schedule(optimizer_name, layer_adaptation):
    # Norms far above and below 1.0, so clipping changes the ratio m / sqrt(v) between steps.
    steps = gradient_steps(3, scales=[20.0, 0.05, 5.0])
    optimizer = create_optimizer(optimizer_name, learning_rate=0.1, num_train_steps=10,
                                 num_warmup_steps=0)

    actual = apply_steps(optimizer, make_variables(), steps)

    learning_rates = [0.1 * (1 - step / 10) for step in range(3)]
    assert_weights_close(actual, numpy_reference(steps, learning_rates, layer_adaptation,
                                                 clip_norm=1.0))


def test_sparse_gradient_updates_like_its_dense_form():
    # Embedding lookups produce IndexedSlices gradients, possibly with repeated rows.
    sparse = tf.IndexedSlices(values=tf.constant([[1.0, 2.0, 3.0], [0.5, 0.5, 0.5]]),
                              indices=tf.constant([1, 1]), dense_shape=tf.constant([2, 3]))
    sparse_variables, dense_variables = make_variables()[:1], make_variables()[:1]

    Lamb(learning_rate=0.1).apply([sparse], sparse_variables)
    Lamb(learning_rate=0.1).apply([tf.convert_to_tensor(sparse)], dense_variables)

    np.testing.assert_array_equal(sparse_variables[0].numpy(), dense_variables[0].numpy())


def test_jit_compiled_step_equals_eager_step():
    steps = gradient_steps(2)
    eager_variables, compiled_variables = make_variables(), make_variables()
    eager_optimizer, compiled_optimizer = Lamb(learning_rate=0.1), Lamb(learning_rate=0.1)
    compiled_optimizer.build(compiled_variables)

    @tf.function(jit_compile=True)
    def compiled_apply(gradients):
        compiled_optimizer.apply(gradients, compiled_variables)

    eager = apply_steps(eager_optimizer, eager_variables, steps)
    for gradients in steps:
        compiled_apply([tf.constant(g, tf.float32) for g in gradients.values()])

    # XLA may fuse and reorder float32 arithmetic: equal up to rounding, not bit for bit.
    for variable in compiled_variables:
        np.testing.assert_allclose(variable.numpy(), eager[variable.path], rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("optimizer_name", ["lamb", "adamw"])
def test_from_config_reproduces_updates_exactly(optimizer_name):
    steps = gradient_steps(3)
    optimizer = create_optimizer(optimizer_name, learning_rate=0.1, num_train_steps=10,
                                 num_warmup_steps=2, poly_power=2.0)
    restored = type(optimizer).from_config(optimizer.get_config())

    original_weights = apply_steps(optimizer, make_variables(), steps)
    restored_weights = apply_steps(restored, make_variables(), steps)

    assert all(np.array_equal(original_weights[p], restored_weights[p]) for p in original_weights)


def test_mirrored_step_clips_the_summed_gradient_like_one_device():
    # Both replicas' gradients have norms above 1: clipping each before the cross-replica sum
    # (what keras' global_clipnorm does) points the first step's moments elsewhere than clipping
    # their sum, which shows from the second step on.
    initial_weights = [1.0, 2.0, 3.0]
    replica_steps = [[[3.0, 0.0, 4.0], [0.0, 6.0, 0.0]], [[0.1, 0.2, 0.3], [0.0, 0.0, 0.1]]]
    helper = os.path.join(os.path.dirname(__file__), "mirrored_optimizer_steps.py")
    environment = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(helper)))

    finished = subprocess.run(
        [sys.executable, helper, "lamb", json.dumps(initial_weights), json.dumps(replica_steps)],
        capture_output=True, text=True, env=environment, timeout=120)

    assert finished.returncode == 0, finished.stderr
    one_device = keras.Variable(np.array(initial_weights, "float32"), name="kernel")
    optimizer = create_optimizer("lamb", 0.1, num_train_steps=10, num_warmup_steps=0)
    for step in replica_steps:
        optimizer.apply([tf.constant(np.sum(step, axis=0), tf.float32)], [one_device])
    mirrored = np.array(json.loads(finished.stdout.splitlines()[-1]), "float32")
    np.testing.assert_allclose(mirrored, one_device.numpy(), rtol=1e-6)


def test_unknown_optimizer_name_is_rejected():
    with pytest.raises(ValueError, match=r"optimizer_name must be one of \['adamw', 'lamb'\], got 'adam'"):
        create_optimizer("adam", learning_rate=0.1, num_train_steps=10, num_warmup_steps=0)


def test_exclusions_as_a_bare_string_are_rejected():
    with pytest.raises(ValueError, match=r"exclude_from_weight_decay must be a list .* write \['bias'\]"):
        Lamb(learning_rate=0.1, exclude_from_weight_decay="bias")


def test_keras_exclusion_method_points_to_the_constructor_argument():
    # keras' method would only steer keras' own weight decay, which this optimizer never applies.
    with pytest.raises(ValueError, match=r"constructor argument `exclude_from_weight_decay`"):
        Lamb(learning_rate=0.1).exclude_from_weight_decay(var_names=["bias"])


@pytest.mark.parametrize("keras_argument, our_argument", [("weight_decay", "weight_decay_rate"),
                                                          ("global_clipnorm", "global_gradient_clip_norm")])
def test_keras_arguments_with_other_semantics_are_rejected(keras_argument, our_argument):
    with pytest.raises(ValueError, match=rf"`{keras_argument}`.*pass `{our_argument}`"):
        Lamb(learning_rate=0.1, **{keras_argument: 0.5})


def test_weight_decay_skips_exactly_the_variables_the_original_skipped(grouped_config):
    by_original_name = original_variable_map(AlbertPretrainer(grouped_config))
    optimizer = create_optimizer("lamb", 1e-3, 10, 0)
    variables = list(by_original_name.values())
    optimizer.build(variables)

    # The original searched its regexes ["LayerNorm", "layer_norm", "bias"] in the TF1 names.
    expected = [not re.search("LayerNorm|layer_norm|bias", name) for name in by_original_name]
    assert optimizer._decays == expected and optimizer._adapts == expected
