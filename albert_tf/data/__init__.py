"""Input pipelines."""

from albert_tf.data.pretraining_dataset import RECORD_FEATURES, pretraining_dataset
