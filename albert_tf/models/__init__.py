"""ALBERT models: the encoder and the models that put heads on it."""

from albert_tf.models.encoder import AlbertEncoder
from albert_tf.models.pretrainer import AlbertPretrainer
