import numpy as np
import pytest
import tensorflow as tf

from albert_tf.layers.activations import ActivatedDense, gelu_tanh, gelu_tanh_for_training, get_activation
from tests.harness import check_config_round_trip
from tests.numpy_albert import gelu

X = np.linspace(-6, 6, 241)
# Inference's op chain, and training's two XLA-fused kernels: both the original's formula.
BOTH_FORMS = pytest.mark.parametrize("activation", [gelu_tanh, gelu_tanh_for_training],
                                     ids=["inference", "training"])


@BOTH_FORMS
def test_gelu_is_the_tanh_approximation(activation):
    np.testing.assert_allclose(activation(tf.constant(X, tf.float32)), gelu(X), atol=1e-6)


@BOTH_FORMS
def test_gelu_gradient_matches_the_analytic_derivative(activation):
    x = tf.constant(X, tf.float64)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = activation(x)
    # Central differences of the NumPy reference, in float64.
    h = 1e-6
    numeric = (gelu(X + h) - gelu(X - h)) / (2 * h)

    np.testing.assert_allclose(tape.gradient(y, x), numeric, atol=1e-8)


def test_the_bfloat16_training_form_rounds_once_from_the_exact_value():
    x = tf.constant(X, tf.bfloat16)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = gelu_tanh_for_training(x)
    exact_x = X.astype(np.float32).astype(tf.bfloat16.as_numpy_dtype).astype(np.float64)

    # bfloat16 has an 8-bit significand: one rounding is within 2^-8 relative (plus a tiny absolute
    # term where the value is near zero).
    np.testing.assert_allclose(np.asarray(y, np.float64), gelu(exact_x), rtol=2**-8, atol=1e-3)
    assert tape.gradient(y, x).dtype == tf.bfloat16


def test_training_swaps_only_the_tanh_gelu():
    assert (get_activation("gelu", training=True), get_activation("relu", training=True)) == (
        gelu_tanh_for_training, get_activation("relu"))


@pytest.mark.parametrize("training", [False, True], ids=["inference", "training"])
def test_activated_dense_is_the_dense_then_the_gelu_in_either_form(training):
    layer = ActivatedDense(6, "gelu")
    x = np.random.default_rng(0).normal(size=(4, 5)).astype(np.float32)
    layer.build(x.shape)
    kernel, bias = (np.asarray(w) for w in layer.get_weights())

    np.testing.assert_allclose(layer(x, training=training), gelu(x @ kernel + bias), atol=1e-5)


def test_activated_dense_config_round_trip_keeps_the_activation():
    layer = ActivatedDense(6, "relu")

    outputs = check_config_round_trip(layer, -np.ones((2, 5), np.float32))

    assert layer.get_config()["hidden_act"] == "relu" and np.min(outputs) >= 0


def test_activated_dense_refuses_an_unknown_activation_when_built():
    with pytest.raises(ValueError, match="hidden_act 'swishy'"):
        ActivatedDense(6, "swishy")
