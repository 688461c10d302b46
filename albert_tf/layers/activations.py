"""The activations an `albert_config.json` can name: the original's, and the exact GELU of
Hugging Face folders."""

import math

import keras
import tensorflow as tf

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


@keras.saving.register_keras_serializable(package="albert_tf")
@tf.custom_gradient
def gelu_tanh(x):
    """GELU in the original's tanh approximation: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).

    The gradient is written out, reusing the forward tanh: autodiff through the formula
    emits about twice the elementwise ops, a visible cost on the [tokens, intermediate] tensor.
    """
    x_squared = x * x
    t = tf.tanh(_SQRT_2_OVER_PI * x * (1.0 + 0.044715 * x_squared))

    def gradient(upstream):
        inner_derivative = _SQRT_2_OVER_PI * (1.0 + 3 * 0.044715 * x_squared)
        return upstream * (0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * inner_derivative)

    return 0.5 * x * (1.0 + t), gradient


@keras.saving.register_keras_serializable(package="albert_tf")
def gelu_exact(x):
    """GELU with the exact erf: what transformers' "gelu" computes (its ALBERT v1 configs name it),
    not the original's; Hugging Face folders that ask for it get it."""
    return keras.activations.gelu(x, approximate=False)


_ACTIVATIONS = {
    "gelu": gelu_tanh,
    "gelu_new": gelu_tanh,
    "gelu_exact": gelu_exact,
    "relu": keras.activations.relu,
    "tanh": keras.activations.tanh,
    "linear": None,
}

ACTIVATION_NAMES = tuple(_ACTIVATIONS)


def get_activation(name):
    """Maps a `hidden_act` value to a callable (None for "linear")."""
    try:
        return _ACTIVATIONS[name]
    except KeyError:
        raise ValueError(f"hidden_act {name!r} is not one of {sorted(_ACTIVATIONS)}") from None
