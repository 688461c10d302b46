"""Reading and writing checkpoints with the original release's TF1 variable names."""

import dataclasses
import re

import numpy as np
import tensorflow as tf
from absl import logging

from albert_tf.checkpoint.names import is_encoder_name, is_training_state, original_variable_map

NATIVE_CHECKPOINT_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"


class CheckpointMismatchError(ValueError):
    """A checkpoint's variables do not fit the model built from the config."""


@dataclasses.dataclass
class LoadReport:
    """What `load_original_checkpoint` did.

    loaded: original names read into the model.
    missing_heads: head variables the checkpoint lacks; they keep their initial values.
    unused: checkpoint variables outside `bert/` the model has no place for (e.g. the
        pretraining heads when loading into a bare encoder).
    """

    loaded: list
    missing_heads: list
    unused: list


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
        model: an `AlbertEncoder`, or a model with `.encoder` and heads (`AlbertPretrainer`).
        checkpoint_path: a checkpoint prefix (".../model.ckpt-best") or a directory.
        allow_missing_heads: start head variables absent from the checkpoint from their random
            initialization (fine-tuning from an encoder-only checkpoint) instead of failing.
        init_from_group0: initialize every group from the checkpoint's group_0, as the
            original `--init_from_group0` does to grow a one-group model into several.

    Optimizer slots (`*/adam_m`, `*/adam_v`) and `global_step` are ignored. Any missing or
    unexpected encoder variable or shape mismatch raises `CheckpointMismatchError` listing
    names and shapes; nothing is assigned unless everything fits.
    Returns: a `LoadReport`.
    """
    path = resolve_checkpoint_path(checkpoint_path)
    reader = tf.train.load_checkpoint(path)
    stored = reader.get_variable_to_shape_map()
    if NATIVE_CHECKPOINT_KEY in stored:
        raise CheckpointMismatchError(
            f"{path} is a native TF2 checkpoint (object-based), not an original TF1 one: restore it with "
            "tf.train.Checkpoint(model=...) or convert it with run/convert_checkpoint.py")
    stored = {name: tuple(shape) for name, shape in stored.items() if not is_training_state(name)}
    targets = original_variable_map(model)

    sources = {}
    for name in targets:
        source = re.sub(r"/group_\d+/", "/group_0/", name) if init_from_group0 else name
        if source in stored:
            sources[name] = source
    used = set(sources.values())
    missing = [name for name in targets if name not in sources]
    missing_encoder = [name for name in missing if is_encoder_name(name)]
    missing_heads = [name for name in missing if not is_encoder_name(name)]
    unexpected = [name for name in stored if name not in used and is_encoder_name(name)
                  and not (init_from_group0 and "/transformer/group_" in name)]
    unused = sorted(name for name in stored if name not in used and not is_encoder_name(name))
    mismatched = [name for name, source in sources.items() if stored[source] != tuple(targets[name].shape)]

    problems = []
    if missing_encoder:
        problems.append(_listing("in the model but missing from the checkpoint",
                                 {n: tuple(targets[n].shape) for n in missing_encoder}))
    if unexpected:
        problems.append(_listing("in the checkpoint but not in the model", {n: stored[n] for n in unexpected}))
    if mismatched:
        problems.append("shape mismatch (checkpoint vs model):\n" + "\n".join(
            f"  {n}: {list(stored[sources[n]])} vs {list(targets[n].shape)}" for n in sorted(mismatched)))
    if missing_heads and not allow_missing_heads:
        problems.append(_listing(
            "head variables missing from the checkpoint (pass allow_missing_heads=True to start them "
            "from random initialization)", {n: tuple(targets[n].shape) for n in missing_heads}))
    if problems:
        raise CheckpointMismatchError(
            f"checkpoint {path} does not fit the model built from the ALBERT config:\n" + "\n".join(problems))

    for name, source in sources.items():
        targets[name].assign(reader.get_tensor(source).astype(targets[name].dtype))
    if missing_heads:
        logging.warning("Checkpoint %s has no %s; they keep their random initialization.", path, missing_heads)
    if unused:
        logging.info("Checkpoint %s: not used by this model: %s", path, unused)
    return LoadReport(loaded=sorted(sources), missing_heads=missing_heads, unused=unused)


def save_original_checkpoint(model, checkpoint_prefix, global_step=None):
    """Writes the model's weights under the original TF1 names (a V2 bundle: .index + .data).

    Tools written for the original release (its `init_checkpoint` flags, converters that
    expect `bert/...` names) read the result. The directory's `checkpoint` state file is left
    alone: it belongs to whatever manages the training checkpoints there.
    """
    values = {name: variable.numpy() for name, variable in original_variable_map(model).items()}
    if global_step is not None:
        values["global_step"] = np.asarray(global_step, np.int64)
    names = sorted(values)
    tf.io.gfile.makedirs(_dirname(checkpoint_prefix))
    tf.raw_ops.SaveV2(prefix=checkpoint_prefix, tensor_names=names, shape_and_slices=[""] * len(names),
                      tensors=[values[n] for n in names])
    return checkpoint_prefix


def _dirname(path):
    return path.rsplit("/", 1)[0] if "/" in path else "."


def _listing(title, shapes):
    return f"{title}:\n" + "\n".join(f"  {name} {list(shape)}" for name, shape in sorted(shapes.items()))
