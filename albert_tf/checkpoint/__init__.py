"""Checkpoints in every format users hold: the original TF1 names, our native TF2 format,
Hugging Face folders, keras-hub presets and the original TF1 Hub modules."""

from albert_tf.checkpoint.assign import CheckpointMismatchError, LoadReport
from albert_tf.checkpoint.finite import NonFiniteWeightsError, check_finite
from albert_tf.checkpoint.formats import (FORMATS, CheckpointInfo, build_model, checkpoint_format,
                                          inspect_checkpoint, load_checkpoint, save_checkpoint)
from albert_tf.checkpoint.huggingface import load_huggingface, save_huggingface
from albert_tf.checkpoint.keras_hub import load_keras_hub_preset, save_keras_hub_preset
from albert_tf.checkpoint.names import original_variable_map
from albert_tf.checkpoint.native import load_native_checkpoint, save_native_checkpoint
from albert_tf.checkpoint.original import load_original_checkpoint, resolve_checkpoint_path, save_original_checkpoint
