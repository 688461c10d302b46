"""albert_tf: ALBERT (Lan et al. 2019) for TensorFlow 2 and Keras 3.

The names below are imported on first use (PEP 562), so that importing a submodule that needs no
TensorFlow (`albert_tf.constants`, `albert_tf.finetuning.features`, ...) does not import it.
"""

import importlib

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
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = sorted(_MODULE_OF)


def __getattr__(name):
    if name not in _MODULE_OF:
        raise AttributeError(f"module 'albert_tf' has no attribute {name!r}")
    value = getattr(importlib.import_module(_MODULE_OF[name]), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
