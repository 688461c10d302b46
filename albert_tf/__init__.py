"""albert_tf: ALBERT (Lan et al. 2019) for TensorFlow 2 and Keras 3.

The names below are imported on first use (PEP 562), so that importing a submodule that needs no
TensorFlow (`albert_tf.constants`, `albert_tf.finetuning.features`, ...) does not import it.
"""

from albert_tf.lazy_exports import lazy_exports

_EXPORTS = {
    "albert_tf.config": ("AlbertConfig",),
    "albert_tf.models": ("AlbertClassifier", "AlbertEncoder", "AlbertMultipleChoice", "AlbertPretrainer",
                         "AlbertQuestionAnswerer"),
    "albert_tf.checkpoint": ("CheckpointMismatchError", "NonFiniteWeightsError", "inspect_checkpoint",
                             "load_checkpoint", "load_original_checkpoint", "save_checkpoint",
                             "save_original_checkpoint"),
    "albert_tf.data": ("pretraining_dataset",),
    "albert_tf.text": ("FullTokenizer", "InGraphTokenizer"),
}
__all__, __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
