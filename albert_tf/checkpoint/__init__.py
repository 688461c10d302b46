"""Checkpoints: the original release's TF1 names, and our native TF2 object-based format."""

from albert_tf.checkpoint.names import original_variable_map
from albert_tf.checkpoint.native import (checkpoint_has_heads, is_native_checkpoint, load_checkpoint,
                                         load_native_checkpoint, save_native_checkpoint)
from albert_tf.checkpoint.original import (CheckpointMismatchError, LoadReport, load_original_checkpoint,
                                           resolve_checkpoint_path, save_original_checkpoint)
