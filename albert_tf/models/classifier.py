"""`AlbertClassifier`: sentence (pair) classification and regression on the pooled output (GLUE)."""

import keras

from albert_tf.layers.initializers import truncated_normal
from albert_tf.models.configured_model import ConfiguredModel
from albert_tf.models.encoder import AlbertEncoder


@keras.saving.register_keras_serializable(package="albert_tf")
class AlbertClassifier(ConfiguredModel):
    """pooled_output → dropout → dense, as the original `run_classifier.create_model`.

    Args:
        config: an `AlbertConfig`.
        num_labels: classes; 1 makes a regressor (STS-B), whose logit is the prediction.
        classifier_dropout: dropout on the pooled output while training. The original hardcoded
            0.1; it is separate from the config's dropouts, which v2 encoders want at 0.

    Call with the encoder's input dict. Returns {"logits": float32 [B, num_labels]}.
    """

    HEADS = ("classifier",)

    def __init__(self, config, num_labels, classifier_dropout=0.1, dtype=None, name="albert_classifier", **kwargs):
        super().__init__(config, dtype=dtype, name=name, **kwargs)
        self.num_labels = num_labels
        self.classifier_dropout = classifier_dropout
        self.encoder = AlbertEncoder(config, dtype=dtype)
        self.dropout = keras.layers.Dropout(classifier_dropout)
        self.classifier = keras.layers.Dense(
            num_labels, kernel_initializer=truncated_normal(config.initializer_range),
            dtype="float32", name="classifier")
        self.build()

    def build(self, input_shape=None):
        self.classifier.build((None, self.config.hidden_size))

    def call(self, inputs, training=None):
        pooled = self.encoder(inputs, training=training)["pooled_output"]
        return {"logits": self.classifier(self.dropout(keras.ops.cast(pooled, "float32"), training=training))}

    def get_config(self):
        return {**super().get_config(), "num_labels": self.num_labels, "classifier_dropout": self.classifier_dropout}
