"""`SelfAttention`: the original's multi-head self-attention, with float32 softmax."""

import keras
import tensorflow as tf
from keras import ops

from albert_tf.layers.initializers import truncated_normal
from albert_tf.layers.token_dense import dense_on_tokens

# The original adds this to the logits of padded keys (not -inf): a fully padded row then
# attends uniformly, exactly as in the original.
MASK_ADDER = -10000.0


def attention_bias_from_mask(input_mask):
    """[B, T] mask (1 = attend) → additive float32 bias [B, 1, 1, T] on the keys."""
    # Two expand_dims, not [:, None, None, :]: the TFLite converter has no builtin for a strided
    # slice that inserts two axes into a tensor of unknown length.
    return ops.expand_dims(ops.expand_dims(1.0 - ops.cast(input_mask, "float32"), 1), 1) * MASK_ADDER


@keras.saving.register_keras_serializable(package="albert_tf")
class SelfAttention(keras.layers.Layer):
    """Multi-head scaled dot-product self-attention as in the original `attention_layer`.

    Written here rather than taken from `keras.layers.MultiHeadAttention` because the original
    numerics need (a) an additive -10000 key bias rather than a boolean mask, (b) the softmax in
    float32 under a mixed policy (Keras' layer runs its softmax in the compute dtype), and
    (c) q/k/v/output kernels stored as the original's 2-D [H, H] matrices, so checkpoint names
    map one to one with no reshapes.

    Call arguments:
        x: [B, T, H].
        input_mask: int [B, T], 1 for tokens that may be attended to. (A mask, not a float
            bias: Keras would autocast a float argument to bfloat16, turning -10000 into -9984.)
        queries: optional [B, K, H]: rows of x (e.g. gathered at some positions) to attend
            from instead of all of x; every position of x still serves as a key and value.
    Returns: [B, T, H] (or [B, K, H]) in the compute dtype.
    """

    def __init__(self, hidden_size, num_heads, dropout_rate=0.0, initializer_range=0.02, **kwargs):
        super().__init__(**kwargs)
        self.hidden_size = hidden_size
        self.num_heads = num_heads
        self.dropout_rate = dropout_rate
        self.initializer_range = initializer_range
        self.head_size = hidden_size // num_heads

        def dense(name):
            return keras.layers.Dense(
                hidden_size, kernel_initializer=truncated_normal(initializer_range),
                dtype=self.dtype_policy, name=name)

        self.query = dense("query")
        self.key = dense("key")
        self.value = dense("value")
        self.output_dense = dense("output")
        self.dropout = keras.layers.Dropout(dropout_rate)

    def build(self, input_shape=None):
        for layer in (self.query, self.key, self.value, self.output_dense):
            layer.build((None, None, self.hidden_size))

    def call(self, x, input_mask, queries=None, training=None):
        batch, length = ops.shape(x)[0], ops.shape(x)[1]
        query_length = length if queries is None else ops.shape(queries)[1]

        # Lengths given, not -1: an empty batch has no elements to infer them from.
        def heads(t, t_length):
            return ops.reshape(t, (batch, t_length, self.num_heads, self.head_size))

        # The original scales the logits by 1/√head_size; scaling the query's kernel and bias is
        # the same product at a cost that grows with neither batch nor length (and exact when
        # √head_size is a power of two, as for 64).
        scale = 1.0 / self.head_size ** 0.5
        # Three [H, H] products, not one [H, 3H]: TensorFlow's executor runs independent ops side
        # by side, and the fused product left a core idle (BUILD.md, "The attention's projections").
        q = self.project(x if queries is None else queries, self.query.kernel * scale, self.query.bias * scale)
        k = self.project(x, self.key.kernel, self.key.bias)
        v = self.project(x, self.value.kernel, self.value.bias)
        logits = ops.einsum("btnd,bsnd->bnts", heads(q, query_length), heads(k, length))
        probs = ops.softmax(ops.cast(logits, "float32") + attention_bias_from_mask(input_mask), axis=-1)
        probs = self.dropout(probs, training=training)
        context = ops.einsum("bnts,bsnd->btnd", ops.cast(probs, self.compute_dtype), heads(v, length))
        return dense_on_tokens(self.output_dense, ops.reshape(context, (batch, query_length, self.hidden_size)))

    def project(self, x, kernel, bias):
        """x [..., H] @ kernel + bias, on the tokens flattened to [tokens, H]."""
        return tf.nn.bias_add(ops.matmul(ops.reshape(x, (-1, self.hidden_size)), kernel), bias)

    def get_config(self):
        return {**super().get_config(), "hidden_size": self.hidden_size, "num_heads": self.num_heads,
                "dropout_rate": self.dropout_rate, "initializer_range": self.initializer_range}
