"""Reading and writing checkpoints with the original release's TF1 variable names."""

import re

import numpy as np
import tensorflow as tf

from albert_tf.checkpoint.assign import CheckpointMismatchError, assign_rows
from albert_tf.checkpoint.names import is_encoder_name, is_training_state, original_rows

NATIVE_CHECKPOINT_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"


def resolve_checkpoint_path(path):
    """A checkpoint prefix, or a directory whose latest checkpoint is taken."""
    if tf.io.gfile.isdir(path):
        latest = tf.train.latest_checkpoint(path)
        if latest is None:
            raise FileNotFoundError(f"no checkpoint in directory {path} (no 'checkpoint' state file)")
        return latest
    if not tf.io.gfile.exists(path + ".index"):
        raise FileNotFoundError(
            f"no checkpoint at {path}: expected {path}.index beside its .data-* files "
            "(give the prefix, e.g. .../model.ckpt-best, or a directory)")
    return path


def load_original_checkpoint(model, checkpoint_path, *, allow_missing_heads=False, init_from_group0=False):
    """Loads an original (TF1, `bert/...` + `cls/...` names) checkpoint into our model.

    Args:
        model: an `AlbertEncoder`, or a model with `.encoder` and heads.
        checkpoint_path: a checkpoint prefix (".../model.ckpt-best") or a directory.
        allow_missing_heads: start head variables absent from the checkpoint from their random
            initialization (fine-tuning from an encoder-only checkpoint) instead of failing.
        init_from_group0: as the original `--init_from_group0` (to grow a one-group model into
            several): a group the checkpoint lacks starts from the checkpoint's group_0; a group
            it has is read under its own name.

    Optimizer slots (`*/adam_m`, `*/adam_v`) and `global_step` are ignored, and so is a leading
    `module/` (names as a TF1 Hub module's graph held them). Any missing or unexpected encoder
    variable or shape mismatch raises `CheckpointMismatchError` listing names and shapes;
    nothing is assigned unless everything fits.
    Returns: a `LoadReport`.
    """
    path = resolve_checkpoint_path(checkpoint_path)
    reader = tf.train.load_checkpoint(path)
    stored = reader.get_variable_to_shape_map()
    if NATIVE_CHECKPOINT_KEY in stored:
        raise CheckpointMismatchError(
            f"{path} is a native TF2 checkpoint (object-based), not an original TF1 one: restore it with "
            "tf.train.Checkpoint(model=...) or convert it with run/convert_checkpoint.py")
    stored_names = {_without_module_scope(name): name for name in stored if not is_training_state(name)}
    shapes = {name: tuple(stored[original]) for name, original in stored_names.items()}
    rows = original_rows(model)
    sources = {}
    if init_from_group0:
        sources = {row.name: re.sub(r"/group_\d+/", "/group_0/", row.name) for row in rows
                   if row.name not in shapes}
    return assign_rows(
        rows, shapes, lambda name: reader.get_tensor(stored_names[name]), source=path,
        is_encoder_name=is_encoder_name, allow_missing_heads=allow_missing_heads, sources=sources,
        ignore_unused=lambda name: init_from_group0 and "/transformer/group_" in name)


def save_original_checkpoint(model, checkpoint_prefix, global_step=None):
    """Writes the model's weights under the original TF1 names (a V2 bundle: .index + .data).

    Tools written for the original release (its `init_checkpoint` flags, converters that
    expect `bert/...` names) read the result. The directory's `checkpoint` state file is left
    alone: it belongs to whatever manages the training checkpoints there.
    """
    values = {row.name: row.to_stored() for row in original_rows(model)}
    if global_step is not None:
        values["global_step"] = np.asarray(global_step, np.int64)
    names = sorted(values)
    tf.io.gfile.makedirs(_dirname(checkpoint_prefix))
    tf.raw_ops.SaveV2(prefix=checkpoint_prefix, tensor_names=names, shape_and_slices=[""] * len(names),
                      tensors=[values[n] for n in names])
    return checkpoint_prefix


def _dirname(path):
    return path.rsplit("/", 1)[0] if "/" in path else "."


def _without_module_scope(name):
    return name[len("module/"):] if name.startswith("module/") else name
