"""LayerNorm: both forms (Keras' ops in inference, two XLA kernels in training) are the original's
layer normalization, forward and backward; its config and .keras files round trip."""

import numpy as np
import pytest
import tensorflow as tf

from albert_tf.layers.layer_norm import LayerNorm
from tests.harness import check_config_round_trip, check_layer_keras_save_load
from tests.numpy_albert import layer_norm

RNG = np.random.default_rng(3)
# Rows with a large mean and a small spread, as a residual stream can have: a one-pass variance
# (E[x²] − E[x]²) would lose digits there.
X = RNG.normal(size=(2, 3, 6)) * 0.5 + 4.0
GAMMA, BETA = RNG.normal(size=6), RNG.normal(size=6)
# A random weighting of the outputs: the loss whose gradients are compared.
WEIGHTS = RNG.normal(size=X.shape)
BOTH_FORMS = pytest.mark.parametrize("training", [False, True], ids=["inference", "training"])


def layer_with(dtype):
    layer = LayerNorm(epsilon=1e-12, dtype=dtype)
    layer.build(X.shape)
    layer.set_weights([GAMMA, BETA])
    return layer


@BOTH_FORMS
def test_layer_norm_is_the_originals_formula(training):
    outputs = layer_with("float32")(tf.constant(X, tf.float32), training=training)

    np.testing.assert_allclose(outputs, layer_norm(X, GAMMA, BETA), atol=1e-5)


@BOTH_FORMS
def test_layer_norm_gradients_match_central_differences_of_the_numpy_formula(training):
    layer = layer_with("float64")
    x = tf.constant(X)
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = tf.reduce_sum(layer(x, training=training) * WEIGHTS)
    gradients = tape.gradient(loss, [x, layer.gamma, layer.beta])

    def numeric(argument_index):
        arguments = [X, GAMMA, BETA]
        values = arguments[argument_index]
        result = np.zeros_like(values)
        for index in np.ndindex(values.shape):
            shifted = []
            for sign in (1, -1):
                moved = values.copy()
                moved[index] += sign * 1e-6
                shifted.append(np.sum(layer_norm(*(moved if i == argument_index else a
                                                   for i, a in enumerate(arguments))) * WEIGHTS))
            result[index] = (shifted[0] - shifted[1]) / 2e-6
        return result

    for gradient, argument_index in zip(gradients, range(3)):
        np.testing.assert_allclose(np.asarray(gradient), numeric(argument_index), atol=1e-7)


def test_layer_norm_round_trips_through_its_config_and_a_keras_file(tmp_path):
    layer = layer_with("float32")
    x = X.astype(np.float32)

    check_config_round_trip(layer, x)
    check_layer_keras_save_load(layer, [x], tmp_path)


def test_layer_norm_refuses_anything_but_the_last_axis_with_gamma_and_beta():
    with pytest.raises(ValueError, match="last axis with both gamma and beta"):
        LayerNorm(epsilon=1e-12, axis=1)
