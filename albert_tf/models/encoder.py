"""`AlbertEncoder`: token ids → sequence and pooled representations.

The forward pass, top to bottom: factorized embedding (width E) → one E→H projection →
`num_hidden_layers` applications of shared transformer blocks → tanh pooler on position 0.
"""

import keras
from keras import ops

from albert_tf.layers.embedding import AlbertEmbedding
from albert_tf.layers.initializers import truncated_normal
from albert_tf.layers.token_dense import dense_on_tokens
from albert_tf.layers.transformer_block import SharedTransformerBlock
from albert_tf.models.configured_model import ConfiguredModel


def shared_block_name(group, inner_group):
    return f"group_{group}_inner_group_{inner_group}"


@keras.saving.register_keras_serializable(package="albert_tf")
class AlbertEncoder(ConfiguredModel):
    """The ALBERT encoder, numerically the original `modeling.AlbertModel`.

    Args:
        config: an `AlbertConfig`.
        dtype: a dtype policy for the matmuls (e.g. "mixed_bfloat16"); LayerNorms, softmax and
            the residual stream stay float32.

    Call with a dict: `input_word_ids` int [B, T]; optional `input_mask` (1 = real token,
    default all ones) and `input_type_ids` (default zeros) of the same shape, as in the
    original; optional `output_positions` int [B, K], the positions whose output the caller
    reads (a pretraining step reads only the masked ones): the last block then computes only
    those rows and position 0's, which is the same result for them at a fraction of that
    block's cost. Returns a dict:
        sequence_output: float32 [B, T, H], the last block's output (with `output_positions`,
            [B, K, H]: its rows at those positions).
        pooled_output: [B, H], tanh(dense(last block's output at position 0)).
        encoder_outputs: list of float32 [B, T, H], one per (layer, inner group) application
            (with `output_positions`, the last is `sequence_output`).
    """

    def __init__(self, config, dtype=None, name="albert_encoder", **kwargs):
        super().__init__(config, dtype=dtype, name=name, **kwargs)
        self.embeddings = AlbertEmbedding(
            config.vocab_size, config.embedding_size, config.max_position_embeddings, config.type_vocab_size,
            config.initializer_range, config.hidden_dropout_prob, name="embeddings")
        # The original has no projection variable at all when E == H.
        self.embedding_projection = None
        if config.embedding_size != config.hidden_size:
            self.embedding_projection = keras.layers.Dense(
                config.hidden_size, kernel_initializer=truncated_normal(config.initializer_range),
                dtype=self.dtype_policy, name="embedding_projection")
        # The shared weights: one block per (group, inner group), created here once. `call`
        # applies them num_hidden_layers times. Attributes, not a list: tf.train.Checkpoint
        # does not see layers inside Keras 3 lists.
        for group in config.used_groups:
            for inner_group in range(config.inner_group_num):
                setattr(self, shared_block_name(group, inner_group), SharedTransformerBlock(
                    config.hidden_size, config.num_attention_heads, config.intermediate_size, config.hidden_act,
                    config.hidden_dropout_prob, config.attention_probs_dropout_prob, config.initializer_range,
                    dtype=self.dtype_policy, name=shared_block_name(group, inner_group)))
        self.pooler = keras.layers.Dense(
            config.hidden_size, activation="tanh", kernel_initializer=truncated_normal(config.initializer_range),
            dtype=self.dtype_policy, name="pooler")
        self.build()

    def shared_block(self, group, inner_group):
        return getattr(self, shared_block_name(group, inner_group))

    def build(self, input_shape=None):
        self.embeddings.build()
        if self.embedding_projection is not None:
            self.embedding_projection.build((None, None, self.config.embedding_size))
        for group in self.config.used_groups:
            for inner_group in range(self.config.inner_group_num):
                self.shared_block(group, inner_group).build()
        self.pooler.build((None, self.config.hidden_size))

    def call(self, inputs, training=None):
        word_ids = self.required_input(inputs, "input_word_ids")
        input_mask = inputs.get("input_mask")
        if input_mask is None:
            input_mask = ops.ones_like(word_ids)
        type_ids = inputs.get("input_type_ids")
        if type_ids is None:
            type_ids = ops.zeros_like(word_ids)

        x = self.embeddings(word_ids, type_ids, training=training)
        if self.embedding_projection is not None:
            x = dense_on_tokens(self.embedding_projection, x)

        output_positions = inputs.get("output_positions")
        # The rows the last block computes: position 0 (the pooler's), then the ones asked for.
        last_rows = None
        if output_positions is not None:
            last_rows = ops.concatenate([ops.zeros_like(output_positions[:, :1]), output_positions], axis=1)

        last_application = (self.config.num_hidden_layers - 1, self.config.inner_group_num - 1)
        encoder_outputs = []
        for layer_index in range(self.config.num_hidden_layers):
            group = self.config.group_index(layer_index)
            for inner_group in range(self.config.inner_group_num):
                rows = last_rows if (layer_index, inner_group) == last_application else None
                x = self.shared_block(group, inner_group)(x, input_mask, query_positions=rows, training=training)
                encoder_outputs.append(x)

        pooled_output = self.pooler(x[:, 0])
        if output_positions is not None:
            x = x[:, 1:]  # without position 0, which only the pooler asked for
            encoder_outputs[-1] = x
        return {"sequence_output": x, "pooled_output": pooled_output, "encoder_outputs": encoder_outputs}
