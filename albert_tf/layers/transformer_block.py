"""`SharedTransformerBlock`: the post-LN block whose weights ALBERT shares across layers."""

import keras
import tensorflow as tf
from keras import ops

from albert_tf.layers.activations import ActivatedDense
from albert_tf.layers.attention import SelfAttention
from albert_tf.layers.initializers import truncated_normal


@keras.saving.register_keras_serializable(package="albert_tf")
class SharedTransformerBlock(keras.layers.Layer):
    """One BERT block (attention → add & LayerNorm → FFN → add & LayerNorm), post-LN.

    ALBERT creates one such block per (group, inner group) and calls it for every layer of
    its group, so the parameter count does not grow with depth. The residual stream and both
    LayerNorms are float32 under any dtype policy; the matmuls run in the compute dtype.

    Call arguments:
        x: [B, T, H].
        input_mask: int [B, T], 1 for real tokens.
        query_positions: optional int [B, K]: compute the output at these positions only (all
            positions are still attended to). Every step after the attention is per position,
            so these rows are the full output's rows.
    Returns: float32 [B, T, H] (or [B, K, H]).
    """

    def __init__(self, hidden_size, num_heads, intermediate_size, hidden_act="gelu",
                 hidden_dropout_rate=0.0, attention_dropout_rate=0.0, initializer_range=0.02, **kwargs):
        # Keras would cast the input to the compute dtype on entry, rounding the float32 residual
        # stream to bfloat16 at every block; the sublayers cast what they multiply themselves.
        super().__init__(autocast=False, **kwargs)
        self.hidden_size = hidden_size
        self.num_heads = num_heads
        self.intermediate_size = intermediate_size
        self.hidden_act = hidden_act
        self.hidden_dropout_rate = hidden_dropout_rate
        self.attention_dropout_rate = attention_dropout_rate
        self.initializer_range = initializer_range

        self.attention = SelfAttention(hidden_size, num_heads, attention_dropout_rate, initializer_range,
                                       dtype=self.dtype_policy, name="attention")
        self.attention_dropout = keras.layers.Dropout(hidden_dropout_rate)
        self.attention_layer_norm = keras.layers.LayerNormalization(
            epsilon=1e-12, dtype="float32", name="attention_layer_norm")
        self.intermediate = ActivatedDense(
            intermediate_size, hidden_act, kernel_initializer=truncated_normal(initializer_range),
            dtype=self.dtype_policy, name="intermediate")
        self.intermediate_output = keras.layers.Dense(
            hidden_size, kernel_initializer=truncated_normal(initializer_range), dtype=self.dtype_policy,
            name="intermediate_output")
        self.output_dropout = keras.layers.Dropout(hidden_dropout_rate)
        self.output_layer_norm = keras.layers.LayerNormalization(
            epsilon=1e-12, dtype="float32", name="output_layer_norm")

    def build(self, input_shape=None):
        self.attention.build()
        self.attention_layer_norm.build((None, None, self.hidden_size))
        self.intermediate.build((None, None, self.hidden_size))
        self.intermediate_output.build((None, None, self.intermediate_size))
        self.output_layer_norm.build((None, None, self.hidden_size))

    def call(self, x, input_mask, query_positions=None, training=None):
        rows = None if query_positions is None else tf.gather(x, query_positions, batch_dims=1)
        attended = self.attention_dropout(
            self.attention(x, input_mask, queries=rows, training=training), training=training)
        if rows is not None:
            x = rows
        x = self.attention_layer_norm(ops.cast(attended, "float32") + ops.cast(x, "float32"))
        ffn = self.output_dropout(self.feed_forward(x, training), training=training)
        return self.output_layer_norm(ops.cast(ffn, "float32") + x)

    def feed_forward(self, x, training):
        # On the tokens flattened to [N, H], so that grappler fuses each MatMul with its bias (the
        # first also with its activation, in inference) into one oneDNN kernel.
        shape = ops.shape(x)
        hidden = self.intermediate(ops.reshape(x, (-1, self.hidden_size)), training=training)
        return ops.reshape(self.intermediate_output(hidden), shape)

    def get_config(self):
        return {**super().get_config(), "hidden_size": self.hidden_size, "num_heads": self.num_heads,
                "intermediate_size": self.intermediate_size, "hidden_act": self.hidden_act,
                "hidden_dropout_rate": self.hidden_dropout_rate,
                "attention_dropout_rate": self.attention_dropout_rate,
                "initializer_range": self.initializer_range}
