"""`AlbertQuestionAnswerer`: extractive question answering (SQuAD v1.1 and v2.0)."""

import keras
from keras import ops

from albert_tf.layers.initializers import truncated_normal
from albert_tf.layers.span_heads import AnswerabilityHead, ConditionalEndHead, SpanLogitsHead, mask_logits
from albert_tf.models.configured_model import ConfiguredModel
from albert_tf.models.encoder import AlbertEncoder


@keras.saving.register_keras_serializable(package="albert_tf")
class AlbertQuestionAnswerer(ConfiguredModel):
    """The original's SQuAD models.

    v1.1 (`version_2_with_negative=False`): start and end logits from one dense layer on every
    token. Returns {"start_logits", "end_logits"}, float32 [B, T].

    v2.0: the XLNet-style model of the original `squad_utils.create_v2_model`. Needs `p_mask`
    [B, T] (1 = cannot be in an answer). Returns float32 `start_log_probs` [B, T] and
    `cls_logits` [B] (answerability: high means no answer), plus
      - with `start_positions` [B] in the inputs (training): `end_log_probs` [B, T], the end
        distribution given the gold start;
      - without (inference): the `start_n_top` best starts (`start_top_log_probs`,
        `start_top_index` [B, K]) and for each the `end_n_top` best ends (`end_top_log_probs`,
        `end_top_index` [B, K, K']).
    """

    def __init__(self, config, version_2_with_negative=False, start_n_top=5, end_n_top=5, dropout_rate=0.1,
                 dtype=None, name="albert_question_answerer", **kwargs):
        super().__init__(config, dtype=dtype, name=name, **kwargs)
        self.version_2_with_negative = version_2_with_negative
        self.start_n_top = start_n_top
        self.end_n_top = end_n_top
        self.dropout_rate = dropout_rate
        self.encoder = AlbertEncoder(config, dtype=dtype)
        self.HEADS = ("start_head", "end_head", "answerability_head") if version_2_with_negative else ("span_head",)
        hidden = config.hidden_size
        if version_2_with_negative:
            self.start_head = keras.layers.Dense(
                1, kernel_initializer=truncated_normal(config.initializer_range),
                dtype="float32", name="start_head")
            self.end_head = ConditionalEndHead(hidden, config.initializer_range, name="end_head")
            self.answerability_head = AnswerabilityHead(hidden, dropout_rate, config.initializer_range,
                                                        name="answerability_head")
        else:
            self.span_head = SpanLogitsHead(config.initializer_range, name="span_head")

        self.build()

    def build(self, input_shape=None):
        hidden = self.config.hidden_size
        if self.version_2_with_negative:
            self.start_head.build((None, hidden))
            self.end_head.build()
            self.answerability_head.build()
        else:
            self.span_head.build((None, None, hidden))

    @property
    def unused_variables(self):
        """The encoder's pooler, which no span head reads (kept so that checkpoints carry it); training
        leaves it out of the gradient, as it would get none."""
        return self.encoder.pooler.trainable_variables

    def call(self, inputs, training=None):
        sequence = ops.cast(self.encoder(inputs, training=training)["sequence_output"], "float32")
        if not self.version_2_with_negative:
            start_logits, end_logits = self.span_head(sequence)
            return {"start_logits": start_logits, "end_logits": end_logits}

        p_mask = self.required_input(inputs, "p_mask")
        start_log_probs = ops.log_softmax(mask_logits(ops.squeeze(self.start_head(sequence), -1), p_mask), axis=-1)
        outputs = {"start_log_probs": start_log_probs,
                   "cls_logits": self.answerability_head(sequence, start_log_probs, training=training)}
        if "start_positions" in inputs:
            gold_start = ops.take_along_axis(
                sequence, ops.reshape(ops.cast(inputs["start_positions"], "int32"), (-1, 1, 1)), axis=1)[:, 0]
            outputs["end_log_probs"] = ops.log_softmax(self.end_head(sequence, gold_start, p_mask), axis=-1)
            return outputs

        start_top_log_probs, start_top_index = ops.top_k(start_log_probs, self.start_n_top)
        start_features = ops.take_along_axis(sequence, ops.expand_dims(start_top_index, -1), axis=1)
        end_log_probs = ops.log_softmax(self.end_head(sequence, start_features, p_mask), axis=-1)
        end_top_log_probs, end_top_index = ops.top_k(end_log_probs, self.end_n_top)
        outputs.update(start_top_log_probs=start_top_log_probs, start_top_index=start_top_index,
                       end_top_log_probs=end_top_log_probs, end_top_index=end_top_index)
        return outputs

    def get_config(self):
        return {**super().get_config(), "version_2_with_negative": self.version_2_with_negative,
                "start_n_top": self.start_n_top, "end_n_top": self.end_n_top, "dropout_rate": self.dropout_rate}
