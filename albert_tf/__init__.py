"""albert_tf: ALBERT (Lan et al. 2019) for TensorFlow 2 and Keras 3."""

from albert_tf.config import AlbertConfig
