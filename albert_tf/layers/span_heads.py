"""Heads that point at answer spans in the sequence output (SQuAD).

`SpanLogitsHead` is the v1.1 head: one start and one end logit per token. The v2.0 heads follow
the original's XLNet-style model: a start distribution, an end distribution conditioned on a
start (`ConditionalEndHead`), and an answerability logit (`AnswerabilityHead`). Positions whose
`p_mask` is 1 (question, [SEP], padding) get a logit of -1e30, so only the context and [CLS]
can be chosen. All three compute in float32.
"""

import keras
from keras import ops

from albert_tf.layers.initializers import truncated_normal

NEGATIVE_INFINITY = -1e30


def mask_logits(logits, p_mask):
    """The original's `logits * (1 - p_mask) - 1e30 * p_mask`."""
    p_mask = ops.cast(p_mask, "float32")
    return logits * (1.0 - p_mask) + NEGATIVE_INFINITY * p_mask


@keras.saving.register_keras_serializable(package="albert_tf")
class SpanLogitsHead(keras.layers.Layer):
    """[B, T, H] → start and end logits, each [B, T] (SQuAD v1.1; no masking, as the original)."""

    def __init__(self, initializer_range=0.02, **kwargs):
        kwargs["dtype"] = "float32"
        super().__init__(**kwargs)
        self.initializer_range = initializer_range
        self.dense = keras.layers.Dense(2, kernel_initializer=truncated_normal(initializer_range), dtype="float32",
                                        name="dense")

    def build(self, input_shape):
        self.dense.build(input_shape)

    def call(self, sequence_output):
        logits = self.dense(ops.cast(sequence_output, "float32"))
        return logits[..., 0], logits[..., 1]

    def get_config(self):
        return {**super().get_config(), "initializer_range": self.initializer_range}


@keras.saving.register_keras_serializable(package="albert_tf")
class ConditionalEndHead(keras.layers.Layer):
    """End logits given a start: dense_H(tanh)([seq ; start_feature]) → LayerNorm → dense_1.

    Call arguments:
        sequence_output: [B, T, H].
        start_features: [B, H] (one start per example) or [B, K, H] (K candidate starts).
        p_mask: [B, T].
    Returns: masked float32 end logits, [B, T] or [B, K, T].
    """

    def __init__(self, hidden_size, initializer_range=0.02, **kwargs):
        kwargs["dtype"] = "float32"
        super().__init__(**kwargs)
        self.hidden_size = hidden_size
        self.initializer_range = initializer_range
        self.dense_0 = keras.layers.Dense(hidden_size, activation="tanh",
                                          kernel_initializer=truncated_normal(initializer_range), dtype="float32",
                                          name="dense_0")
        self.layer_norm = keras.layers.LayerNormalization(epsilon=1e-12, dtype="float32", name="layer_norm")
        self.dense_1 = keras.layers.Dense(1, kernel_initializer=truncated_normal(initializer_range), dtype="float32",
                                          name="dense_1")

    def build(self, input_shape=None):
        self.dense_0.build((None, 2 * self.hidden_size))
        self.layer_norm.build((None, self.hidden_size))
        self.dense_1.build((None, self.hidden_size))

    def call(self, sequence_output, start_features, p_mask):
        sequence_output = ops.cast(sequence_output, "float32")
        start_features = ops.cast(start_features, "float32")
        if len(start_features.shape) == 3:
            # Each of the K starts is paired with the whole sequence: [B, K, T, H].
            batch, k, length = ops.shape(start_features)[0], ops.shape(start_features)[1], ops.shape(sequence_output)[1]
            shape = (batch, k, length, self.hidden_size)
            sequence_output = ops.broadcast_to(ops.expand_dims(sequence_output, 1), shape)
            start_features = ops.broadcast_to(ops.expand_dims(start_features, 2), shape)
            p_mask = ops.expand_dims(p_mask, 1)
        else:
            start_features = ops.broadcast_to(ops.expand_dims(start_features, 1), ops.shape(sequence_output))
        hidden = self.layer_norm(self.dense_0(ops.concatenate([sequence_output, start_features], axis=-1)))
        return mask_logits(ops.squeeze(self.dense_1(hidden), -1), p_mask)

    def get_config(self):
        return {**super().get_config(), "hidden_size": self.hidden_size, "initializer_range": self.initializer_range}


@keras.saving.register_keras_serializable(package="albert_tf")
class AnswerabilityHead(keras.layers.Layer):
    """Logit that the question has no answer in this window, from [CLS] and the expected start.

    dense_H(tanh)([Σ softmax(start)·seq ; seq[0]]) → dropout → dense_1 without bias.

    Call arguments:
        sequence_output: [B, T, H].
        start_log_probs: [B, T] log-softmax of the masked start logits.
    Returns: float32 [B].
    """

    def __init__(self, hidden_size, dropout_rate=0.1, initializer_range=0.02, **kwargs):
        kwargs["dtype"] = "float32"
        super().__init__(**kwargs)
        self.hidden_size = hidden_size
        self.dropout_rate = dropout_rate
        self.initializer_range = initializer_range
        self.dense_0 = keras.layers.Dense(hidden_size, activation="tanh",
                                          kernel_initializer=truncated_normal(initializer_range), dtype="float32",
                                          name="dense_0")
        self.dropout = keras.layers.Dropout(dropout_rate, dtype="float32")
        self.dense_1 = keras.layers.Dense(1, use_bias=False, kernel_initializer=truncated_normal(initializer_range),
                                          dtype="float32", name="dense_1")

    def build(self, input_shape=None):
        self.dense_0.build((None, 2 * self.hidden_size))
        self.dense_1.build((None, self.hidden_size))

    def call(self, sequence_output, start_log_probs, training=None):
        sequence_output = ops.cast(sequence_output, "float32")
        start_feature = ops.einsum("bt,bth->bh", ops.exp(start_log_probs), sequence_output)
        hidden = self.dense_0(ops.concatenate([start_feature, sequence_output[:, 0]], axis=-1))
        return ops.squeeze(self.dense_1(self.dropout(hidden, training=training)), -1)

    def get_config(self):
        return {**super().get_config(), "hidden_size": self.hidden_size, "dropout_rate": self.dropout_rate,
                "initializer_range": self.initializer_range}
