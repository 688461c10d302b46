"""`LayerNorm`: Keras' LayerNormalization over the last axis, with a fused form for training."""

import keras
import tensorflow as tf


def _compute_dtype(x):
    return tf.float64 if x.dtype == tf.float64 else tf.float32


def _normalized(x, epsilon):
    """(x − mean)·rsqrt(var + ε) over the last axis, and that rsqrt; the variance in two passes,
    as the original's `tf.nn.moments`."""
    mean = tf.reduce_mean(x, axis=-1, keepdims=True)
    centered = x - mean
    inverse_std = tf.math.rsqrt(tf.reduce_mean(tf.square(centered), axis=-1, keepdims=True) + epsilon)
    return centered * inverse_std, inverse_std


@tf.function(jit_compile=True, reduce_retracing=True)
def _fused_layer_norm(x, gamma, beta, epsilon):
    z = tf.cast(x, _compute_dtype(x))
    normalized, _ = _normalized(z, tf.cast(epsilon, z.dtype))
    return tf.cast(normalized * tf.cast(gamma, z.dtype) + tf.cast(beta, z.dtype), x.dtype)


@tf.function(jit_compile=True, reduce_retracing=True)
def _fused_layer_norm_gradient(x, gamma, epsilon, upstream):
    z = tf.cast(x, _compute_dtype(x))
    normalized, inverse_std = _normalized(z, tf.cast(epsilon, z.dtype))
    dy = tf.cast(upstream, z.dtype)
    leading_axes = list(range(z.shape.rank - 1))
    d_gamma = tf.reduce_sum(dy * normalized, axis=leading_axes)
    d_beta = tf.reduce_sum(dy, axis=leading_axes)
    d_normalized = dy * tf.cast(gamma, z.dtype)
    d_x = inverse_std * (d_normalized - tf.reduce_mean(d_normalized, axis=-1, keepdims=True)
                         - normalized * tf.reduce_mean(d_normalized * normalized, axis=-1, keepdims=True))
    return tf.cast(d_x, x.dtype), tf.cast(d_gamma, gamma.dtype), tf.cast(d_beta, gamma.dtype)


def layer_norm_for_training(x, gamma, beta, epsilon):
    """Layer normalization over the last axis with a written-out gradient: forward and backward
    each one XLA-compiled kernel, computing in float32 (float64 for float64 inputs).

    Without XLA, TensorFlow runs the normalization as about ten ops and its autodiff gradient as
    about twenty more, each a pass over the [tokens, H] tensor: on ALBERT-base, 24 LayerNorms per
    step, that was about a tenth of a bfloat16 training step's op time. Only training uses it: a
    SavedModel for TF Serving or LiteRT must not need XLA.
    """

    @tf.custom_gradient
    def normalize(x, gamma, beta):
        def gradient(upstream):
            return _fused_layer_norm_gradient(x, gamma, epsilon, upstream)

        return _fused_layer_norm(x, gamma, beta, epsilon), gradient

    return normalize(x, gamma, beta)


@keras.saving.register_keras_serializable(package="albert_tf")
class LayerNorm(keras.layers.LayerNormalization):
    """`keras.layers.LayerNormalization` over the last axis with γ and β (the original's
    `layer_norm`: (x − mean)·rsqrt(var + ε)·γ + β), whose training calls run
    `layer_norm_for_training`; inference runs Keras' own ops. Its variables and config are Keras'.
    """

    def __init__(self, epsilon, **kwargs):
        super().__init__(epsilon=epsilon, **kwargs)
        if self.axis not in (-1, [-1]) or not (self.center and self.scale) or self.rms_scaling:
            raise ValueError("LayerNorm normalizes over the last axis with both gamma and beta; got axis="
                             f"{self.axis}, center={self.center}, scale={self.scale}, rms_scaling={self.rms_scaling}")

    def call(self, inputs, training=None):
        if not training:
            return super().call(inputs)
        return layer_norm_for_training(inputs, tf.convert_to_tensor(self.gamma), tf.convert_to_tensor(self.beta),
                                       self.epsilon)
