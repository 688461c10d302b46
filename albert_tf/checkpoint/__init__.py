"""Checkpoint interop with the original release."""

from albert_tf.checkpoint.names import original_variable_map
from albert_tf.checkpoint.original import (CheckpointMismatchError, LoadReport, load_original_checkpoint,
                                           resolve_checkpoint_path, save_original_checkpoint)
