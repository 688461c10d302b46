"""`AlbertMultipleChoice`: scores each (passage + question, option) sequence of an example (RACE)."""

import keras
from keras import ops

from albert_tf.layers.initializers import truncated_normal
from albert_tf.models.configured_model import ConfiguredModel
from albert_tf.models.encoder import AlbertEncoder

ENCODER_INPUTS = ("input_word_ids", "input_mask", "input_type_ids")


@keras.saving.register_keras_serializable(package="albert_tf")
class AlbertMultipleChoice(ConfiguredModel):
    """The choices are folded into the batch, encoded, and scored by one dense unit each.

    As the original `run_race.create_model`: [B, C, T] → [B·C, T] → pooled → dropout → dense_1
    → [B, C] logits, trained with softmax cross-entropy over the C choices.

    Call with the encoder's input dict, each tensor [B, C, T].
    Returns {"logits": float32 [B, C]}.
    """

    HEADS = ("scorer",)

    def __init__(self, config, num_choices=4, dropout_rate=0.1, dtype=None, name="albert_multiple_choice", **kwargs):
        super().__init__(config, dtype=dtype, name=name, **kwargs)
        self.num_choices = num_choices
        self.dropout_rate = dropout_rate
        self.encoder = AlbertEncoder(config, dtype=dtype)
        self.dropout = keras.layers.Dropout(dropout_rate)
        self.scorer = keras.layers.Dense(
            1, kernel_initializer=truncated_normal(config.initializer_range),
            dtype="float32", name="scorer")
        self.build()

    def build(self, input_shape=None):
        self.scorer.build((None, self.config.hidden_size))

    def call(self, inputs, training=None):
        word_ids = self.required_input(inputs, "input_word_ids")
        length = ops.shape(word_ids)[-1]
        flat = {key: ops.reshape(inputs[key], (-1, length)) for key in ENCODER_INPUTS if key in inputs}
        pooled = ops.cast(self.encoder(flat, training=training)["pooled_output"], "float32")
        scores = self.scorer(self.dropout(pooled, training=training))
        return {"logits": ops.reshape(scores, (-1, self.num_choices))}

    def get_config(self):
        return {**super().get_config(), "num_choices": self.num_choices, "dropout_rate": self.dropout_rate}
