import numpy as np
import tensorflow as tf

from albert_tf.layers.activations import gelu_tanh
from tests.numpy_albert import gelu

X = np.linspace(-6, 6, 241)


def test_gelu_is_the_tanh_approximation():
    np.testing.assert_allclose(gelu_tanh(tf.constant(X, tf.float32)), gelu(X), atol=1e-6)


def test_gelu_gradient_matches_the_analytic_derivative():
    x = tf.constant(X, tf.float64)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = gelu_tanh(x)
    # Central differences of the NumPy reference, in float64.
    h = 1e-6
    numeric = (gelu(X + h) - gelu(X - h)) / (2 * h)

    np.testing.assert_allclose(tape.gradient(y, x), numeric, atol=1e-8)
