"""albert_tf: ALBERT (Lan et al. 2019) for TensorFlow 2 and Keras 3."""

from albert_tf.config import AlbertConfig
from albert_tf.models import (AlbertClassifier, AlbertEncoder, AlbertMultipleChoice, AlbertPretrainer,
                              AlbertQuestionAnswerer)
from albert_tf.checkpoint import (CheckpointMismatchError, NonFiniteWeightsError, inspect_checkpoint, load_checkpoint,
                                  load_original_checkpoint, save_checkpoint, save_original_checkpoint)
from albert_tf.data import pretraining_dataset
from albert_tf.text import FullTokenizer, InGraphTokenizer
