"""Names the command-line scripts offer as flag choices, in a module that imports no TensorFlow
(so that a script answers `--help` before importing it). The modules that use them import them
from here."""

# tf.distribute strategies, by `albert_tf.training.strategy.create_strategy` name.
STRATEGIES = ("tpu", "mirrored", "multi_worker_mirrored", "one_device")

# What `albert_tf.export.export_saved_model` exports.
EXPORT_TASKS = ("encoder", "pretraining", "classifier", "squad")

# The weight storage `albert_tf.export.litert.export_litert` converts to.
LITERT_QUANTIZATIONS = ("none", "float16", "dynamic_int8")

# The GLUE tasks of `albert_tf.finetuning.glue.GLUE_TASKS` (the original's names).
GLUE_TASK_NAMES = ("cola", "mnli", "mismnli", "ax", "mrpc", "qnli", "qqp", "rte", "sst-2", "sts-b", "wnli")
