"""`SentenceOrderHead`: classifies whether the two segments are in their original order."""

import keras
from keras import ops

from albert_tf.layers.initializers import truncated_normal


@keras.saving.register_keras_serializable(package="albert_tf")
class SentenceOrderHead(keras.layers.Layer):
    """Linear 2-way classifier on the pooled output: logits = pooled · Wᵀ + b.

    W is stored as [2, H] (not a Dense kernel's [H, 2]) because that is the original's layout,
    so the checkpoint maps by name alone. Computes in float32 (a negligible cost).

    Call arguments:
        pooled_output: [B, H].
    Returns: float32 logits [B, 2]; class 0 = original order, 1 = swapped.
    """

    def __init__(self, hidden_size, initializer_range=0.02, **kwargs):
        kwargs["dtype"] = "float32"
        super().__init__(**kwargs)
        self.hidden_size = hidden_size
        self.initializer_range = initializer_range

    def build(self, input_shape=None):
        self.output_weights = self.add_weight(
            shape=(2, self.hidden_size), initializer=truncated_normal(self.initializer_range),
            name="output_weights")
        self.output_bias = self.add_weight(shape=(2,), initializer="zeros", name="output_bias")

    def call(self, pooled_output):
        return ops.matmul(ops.cast(pooled_output, "float32"), ops.transpose(self.output_weights)) + self.output_bias

    def get_config(self):
        return {**super().get_config(), "hidden_size": self.hidden_size, "initializer_range": self.initializer_range}
