"""`AlbertPretrainer`: the encoder with the masked-LM and sentence-order heads."""

import keras

from albert_tf.layers.masked_lm_head import MaskedLMHead
from albert_tf.layers.sentence_order_head import SentenceOrderHead
from albert_tf.models.configured_model import ConfiguredModel
from albert_tf.models.encoder import AlbertEncoder


@keras.saving.register_keras_serializable(package="albert_tf")
class AlbertPretrainer(ConfiguredModel):
    """ALBERT's pretraining model: MLM (decoder tied to the word embeddings) + SOP.

    Call with the encoder's input dict plus `masked_lm_positions` int [B, P]. Returns a dict:
        mlm_logits: float32 [B, P, vocab_size].
        sop_logits: float32 [B, 2].
    `pretrainer.encoder` is the `AlbertEncoder`, ready for fine-tuning.
    """

    HEADS = ("masked_lm_head", "sentence_order_head")

    def __init__(self, config, dtype=None, name="albert_pretrainer", **kwargs):
        super().__init__(config, dtype=dtype, name=name, **kwargs)
        self.encoder = AlbertEncoder(config, dtype=dtype)
        self.masked_lm_head = MaskedLMHead(
            config.vocab_size, config.hidden_size, config.embedding_size, config.hidden_act,
            config.initializer_range, name="masked_lm_head")
        self.sentence_order_head = SentenceOrderHead(
            config.hidden_size, config.initializer_range, name="sentence_order_head")
        self.build()

    def build(self, input_shape=None):
        self.masked_lm_head.build()
        self.sentence_order_head.build()

    def call(self, inputs, training=None):
        masked_positions = self.required_input(inputs, "masked_lm_positions")
        # The heads read the masked positions and position 0 only: the last block computes no more.
        encoded = self.encoder({**inputs, "output_positions": masked_positions}, training=training)
        return {
            "mlm_logits": self.masked_lm_head(encoded["sequence_output"], self.encoder.embeddings.word_embeddings),
            "sop_logits": self.sentence_order_head(encoded["pooled_output"]),
        }
