"""`MaskedLMHead`: predicts masked tokens with the decoder tied to the word embeddings."""

import keras
from keras import ops

from albert_tf.layers.activations import get_activation
from albert_tf.layers.initializers import truncated_normal
from albert_tf.layers.token_dense import dense_on_tokens


@keras.saving.register_keras_serializable(package="albert_tf")
class MaskedLMHead(keras.layers.Layer):
    """Maps the encoder's output at the masked positions H→E (dense, activation, LayerNorm), and
    scores every vocabulary entry against the word-embedding table plus a bias of its own.

    The decoder works in E-space and reuses the embedding table, as in the original; the table
    is a call argument so the tie is visible where the head is called. The head computes in
    float32: it is a small share of the FLOPs and keeps the logits exact.

    Call arguments:
        masked_output: [B, P, H], the encoder's output at the masked positions (the original
            gathers them from its whole output; our encoder computes only these rows when asked
            for them with `output_positions`).
        embedding_table: [V, E], the encoder's word embeddings.
    Returns: float32 logits [B, P, V].
    """

    def __init__(self, vocab_size, hidden_size, embedding_size, hidden_act="gelu", initializer_range=0.02,
                 **kwargs):
        kwargs["dtype"] = "float32"
        super().__init__(**kwargs)
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.embedding_size = embedding_size
        self.hidden_act = hidden_act
        self.initializer_range = initializer_range
        self.transform = keras.layers.Dense(
            embedding_size, activation=get_activation(hidden_act),
            kernel_initializer=truncated_normal(initializer_range),
            dtype="float32", name="transform")
        self.layer_norm = keras.layers.LayerNormalization(epsilon=1e-12, dtype="float32", name="layer_norm")

    def build(self, input_shape=None):
        self.transform.build((None, None, self.hidden_size))
        self.layer_norm.build((None, None, self.embedding_size))
        self.output_bias = self.add_weight(shape=(self.vocab_size,), initializer="zeros", name="output_bias")

    def call(self, masked_output, embedding_table):
        x = self.layer_norm(dense_on_tokens(self.transform, ops.cast(masked_output, "float32")))
        return ops.matmul(x, ops.transpose(ops.cast(embedding_table, "float32"))) + self.output_bias

    def get_config(self):
        return {**super().get_config(), "vocab_size": self.vocab_size, "hidden_size": self.hidden_size,
                "embedding_size": self.embedding_size, "hidden_act": self.hidden_act,
                "initializer_range": self.initializer_range}
