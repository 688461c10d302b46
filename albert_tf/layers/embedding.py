"""`AlbertEmbedding`: word + token-type + position embeddings at width E."""

import keras
import tensorflow as tf
from keras import ops

from albert_tf.layers.initializers import truncated_normal


@keras.saving.register_keras_serializable(package="albert_tf")
class AlbertEmbedding(keras.layers.Layer):
    """Sums word, token-type and absolute position embeddings, then LayerNorm and dropout.

    All three tables have the embedding width E (128 in the released models), not the hidden
    width H: this is ALBERT's factorized embedding. The E→H projection lives in the encoder.
    The layer computes in float32 under any dtype policy: it is gathers and a sum, no matmul,
    so bfloat16 would save nothing and would round the tables before they are summed.

    Call arguments:
        input_word_ids: int [B, T].
        input_type_ids: int [B, T].
    Returns: float32 [B, T, E].
    """

    def __init__(self, vocab_size, embedding_size, max_position_embeddings, type_vocab_size,
                 initializer_range=0.02, dropout_rate=0.0, **kwargs):
        kwargs["dtype"] = "float32"
        super().__init__(**kwargs)
        self.vocab_size = vocab_size
        self.embedding_size = embedding_size
        self.max_position_embeddings = max_position_embeddings
        self.type_vocab_size = type_vocab_size
        self.initializer_range = initializer_range
        self.dropout_rate = dropout_rate
        self.layer_norm = keras.layers.LayerNormalization(epsilon=1e-12, dtype="float32", name="layer_norm")
        self.dropout = keras.layers.Dropout(dropout_rate)

    def build(self, input_shape=None):
        def table(rows, name):
            return self.add_weight(shape=(rows, self.embedding_size),
                                   initializer=truncated_normal(self.initializer_range), name=name)

        self.word_embeddings = table(self.vocab_size, "word_embeddings")
        self.token_type_embeddings = table(self.type_vocab_size, "token_type_embeddings")
        self.position_embeddings = table(self.max_position_embeddings, "position_embeddings")
        self.layer_norm.build((None, None, self.embedding_size))

    def call(self, input_word_ids, input_type_ids, training=None):
        seq_length = input_word_ids.shape[1]
        if seq_length is not None and seq_length > self.max_position_embeddings:
            raise ValueError(
                f"sequence length {seq_length} exceeds max_position_embeddings="
                f"{self.max_position_embeddings} of the ALBERT config")
        if seq_length is None:
            seq_length = ops.shape(input_word_ids)[1]
            tf.debugging.assert_less_equal(
                seq_length, self.max_position_embeddings,
                message=f"sequence length exceeds max_position_embeddings={self.max_position_embeddings}")
        words = ops.take(self.word_embeddings, input_word_ids, axis=0)
        types = ops.take(self.token_type_embeddings, input_type_ids, axis=0)
        positions = self.position_embeddings[:seq_length]
        return self.dropout(self.layer_norm(words + types + positions), training=training)

    def get_config(self):
        return {**super().get_config(), "vocab_size": self.vocab_size, "embedding_size": self.embedding_size,
                "max_position_embeddings": self.max_position_embeddings,
                "type_vocab_size": self.type_vocab_size, "initializer_range": self.initializer_range,
                "dropout_rate": self.dropout_rate}
