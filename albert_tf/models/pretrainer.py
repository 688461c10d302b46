"""`AlbertPretrainer`: the encoder with the masked-LM and sentence-order heads."""

import keras

from albert_tf.config import AlbertConfig
from albert_tf.layers.masked_lm_head import MaskedLMHead
from albert_tf.layers.sentence_order_head import SentenceOrderHead
from albert_tf.models.encoder import AlbertEncoder, _required


@keras.saving.register_keras_serializable(package="albert_tf")
class AlbertPretrainer(keras.Model):
    """ALBERT's pretraining model: MLM (decoder tied to the word embeddings) + SOP.

    Call with the encoder's input dict plus `masked_lm_positions` int [B, P]. Returns a dict:
        mlm_logits: float32 [B, P, vocab_size].
        sop_logits: float32 [B, 2].
    `pretrainer.encoder` is the `AlbertEncoder`, ready for fine-tuning.
    """

    def __init__(self, config, dtype=None, name="albert_pretrainer", **kwargs):
        super().__init__(dtype=dtype, name=name, **kwargs)
        self.config = config
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
        masked_positions = _required(inputs, "masked_lm_positions", type(self).__name__)
        encoded = self.encoder(inputs, training=training)
        return {
            "mlm_logits": self.masked_lm_head(
                encoded["sequence_output"], masked_positions, self.encoder.embeddings.word_embeddings),
            "sop_logits": self.sentence_order_head(encoded["pooled_output"]),
        }

    def get_config(self):
        return {"config": self.config.to_dict(), "dtype": keras.dtype_policies.serialize(self.dtype_policy),
                "name": self.name}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        dtype = config.pop("dtype", None)
        return cls(AlbertConfig.from_dict(config.pop("config")),
                   dtype=keras.dtype_policies.deserialize(dtype) if dtype else None, **config)
