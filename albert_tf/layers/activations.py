"""The activations an `albert_config.json` can name: the original's, and the exact GELU of
Hugging Face folders."""

import math

import keras
import tensorflow as tf

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


@keras.saving.register_keras_serializable(package="albert_tf")
def gelu_tanh(x):
    """GELU in the original's tanh approximation: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).

    `tf.nn.gelu(approximate=True)` is that formula as TensorFlow's own op chain, which grappler can
    fuse into a MatMul + BiasAdd before it (it does when a Dense applies it in its own call, as
    `ActivatedDense` does) and which a SavedModel for TF Serving or LiteRT can hold. Training uses
    `gelu_tanh_for_training`.
    """
    return tf.nn.gelu(x, approximate=True)


def _compute_dtype(x):
    return tf.float64 if x.dtype == tf.float64 else tf.float32


@tf.function(jit_compile=True, reduce_retracing=True)
def _fused_gelu_tanh(x):
    z = tf.cast(x, _compute_dtype(x))
    t = tf.tanh(_SQRT_2_OVER_PI * z * (1.0 + 0.044715 * z * z))
    return tf.cast(0.5 * z * (1.0 + t), x.dtype)


@tf.function(jit_compile=True, reduce_retracing=True)
def _fused_gelu_tanh_gradient(x, upstream):
    z = tf.cast(x, _compute_dtype(x))
    z_squared = z * z
    t = tf.tanh(_SQRT_2_OVER_PI * z * (1.0 + 0.044715 * z_squared))
    inner_derivative = _SQRT_2_OVER_PI * (1.0 + 3 * 0.044715 * z_squared)
    derivative = 0.5 * (1.0 + t) + 0.5 * z * (1.0 - t * t) * inner_derivative
    return tf.cast(tf.cast(upstream, z.dtype) * derivative, x.dtype)


@tf.custom_gradient
def gelu_tanh_for_training(x):
    """`gelu_tanh` with a written-out gradient, forward and backward each one XLA-compiled kernel.

    Without XLA, TensorFlow runs the formula and its autodiff gradient as about 20 elementwise
    ops over the [tokens, intermediate_size] tensor, each a pass over memory (and under
    mixed_bfloat16 each a bfloat16 → float32 → bfloat16 round trip): on ALBERT-base that was
    the largest cost after the matmuls. Each kernel computes in float32 (float64 for float64
    inputs) and rounds once, so under a bfloat16 policy it is more exact than the op chain.
    Only training uses it: grappler cannot fuse it into the MatMul (the gradient needs the
    pre-activation), and a SavedModel for TF Serving or LiteRT must not need XLA.
    """
    return _fused_gelu_tanh(x), lambda upstream: _fused_gelu_tanh_gradient(x, upstream)


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
_FOR_TRAINING = {gelu_tanh: gelu_tanh_for_training}

ACTIVATION_NAMES = tuple(_ACTIVATIONS)


def get_activation(name, training=False):
    """Maps a `hidden_act` value to a callable (None for "linear"); with `training`, to the one
    that is fastest to differentiate (the same function)."""
    try:
        activation = _ACTIVATIONS[name]
    except KeyError:
        raise ValueError(f"hidden_act {name!r} is not one of {sorted(_ACTIVATIONS)}") from None
    return _FOR_TRAINING.get(activation, activation) if training else activation


class ActivatedDense(keras.layers.Dense):
    """A Dense layer and then the activation `hidden_act` names, in the form `get_activation` picks
    for each call: the inference form, or in training the one that is fastest to differentiate.

    The activation is applied inside the layer's own call: there grappler fuses the inference GELU
    with the MatMul and its bias into one oneDNN kernel, and on the layer's output it does not
    (measured, the rule in grappler's remapper not traced: ALBERT-base's intermediate Dense and
    GELU on 1024 tokens under mixed_bfloat16, followed by the output Dense, 40 ms inside vs 49 ms
    after, 38 ms without the GELU, on 2 cores).
    """

    def __init__(self, units, hidden_act, **kwargs):
        super().__init__(units, **kwargs)
        get_activation(hidden_act)  # an unknown name fails here, not at the first call
        self.hidden_act = hidden_act

    def call(self, inputs, training=None):
        x = super().call(inputs)
        activation = get_activation(self.hidden_act, training=bool(training))
        return x if activation is None else activation(x)

    def get_config(self):
        return {**super().get_config(), "hidden_act": self.hidden_act}
