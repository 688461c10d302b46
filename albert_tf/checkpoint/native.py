"""Native TF2 checkpoints: `tf.train.Checkpoint(model=...)`, as training writes them."""

import tensorflow as tf
from absl import logging
from tensorflow.core.protobuf import trackable_object_graph_pb2

from albert_tf.checkpoint.assign import CheckpointMismatchError
from albert_tf.checkpoint.original import NATIVE_CHECKPOINT_KEY, resolve_checkpoint_path


def saved_model_children(path):
    """Names of the objects saved under `model` in a native checkpoint (e.g. "encoder", heads).

    Read from the checkpoint's object graph, not from variable names: a variable is named by its
    shortest path, which in a training checkpoint often runs through the optimizer instead.
    """
    graph = trackable_object_graph_pb2.TrackableObjectGraph()
    graph.ParseFromString(tf.train.load_checkpoint(path).get_tensor(NATIVE_CHECKPOINT_KEY))
    model = [child.node_id for child in graph.nodes[0].children if child.local_name == "model"]
    if not model:
        raise CheckpointMismatchError(f"checkpoint {path} has no 'model' (was it written by this library?)")
    return {child.local_name for child in graph.nodes[model[0]].children}


DROPOUT_SEEDS = "dropout_seeds"


def training_checkpoint(model, **objects):
    """The `tf.train.Checkpoint` of a training job: `model`, `objects` (optimizer, input iterator),
    and the model's dropout random streams.

    `Checkpoint(model=...)` leaves the streams out (Keras keeps them in SeedGenerator states that
    it does not track), so a resumed job would draw other dropout masks than an uninterrupted one.
    """
    seeds = [variable for variable in model.variables if variable.name == "seed_generator_state"]
    return tf.train.Checkpoint(model=model, **{DROPOUT_SEEDS: seeds}, **objects)


def restore_training_checkpoint(checkpoint, path):
    """Restores `path` into `checkpoint`, a `training_checkpoint`; returns the restore status.

    The save counter is restored with the rest, so a resumed job numbers its saves on from the
    saved count, as an uninterrupted one does. A checkpoint written before the dropout streams
    were saved (an older albert_tf) is restored without them, with a warning.
    """
    if any(name.startswith(DROPOUT_SEEDS + "/") for name, _ in tf.train.list_variables(path)):
        return checkpoint.restore(path)
    logging.warning("%s holds no dropout random streams (an older albert_tf wrote it): dropout masks from here on "
                    "differ from an uninterrupted run's.", path)
    # The objects the job tracks are the checkpoint's public attributes (Checkpoint keeps its own
    # state in underscored ones).
    tracked = {name: value for name, value in vars(checkpoint).items()
               if not name.startswith("_") and name != DROPOUT_SEEDS}
    without_seeds = tf.train.Checkpoint(**tracked)
    status = without_seeds.restore(path)
    checkpoint.save_counter.assign(without_seeds.save_counter)
    return status


def save_native_checkpoint(model, checkpoint_prefix):
    """Writes `tf.train.Checkpoint(model=model)`, the layout training checkpoints also use."""
    return tf.train.Checkpoint(model=model).write(checkpoint_prefix)


def load_native_checkpoint(model, checkpoint_path, *, allow_missing_heads=False):
    """Restores model weights from a native checkpoint; optimizer state in it is ignored.

    The encoder is found whether the checkpoint was written for a bare encoder
    (`model/embeddings/...`) or for a pretrainer (`model/encoder/...`), so either kind fits
    either model. Missing heads fail unless `allow_missing_heads`, as for original checkpoints.
    """
    path = resolve_checkpoint_path(checkpoint_path)
    saved = saved_model_children(path)
    encoder = getattr(model, "encoder", model)
    if "encoder" in saved:
        parts = [tf.train.Checkpoint(model=tf.train.Checkpoint(encoder=encoder))]
    else:
        parts = [tf.train.Checkpoint(model=encoder)]
    heads = {head: getattr(model, head) for head in getattr(model, "HEADS", ())}
    missing_heads = [head for head in heads if head not in saved]
    if missing_heads and not allow_missing_heads:
        raise CheckpointMismatchError(
            f"checkpoint {path} has no {missing_heads} (pass allow_missing_heads=True to start them from "
            "random initialization)")
    present = {head: layer for head, layer in heads.items() if head not in missing_heads}
    if present:
        parts.append(tf.train.Checkpoint(model=tf.train.Checkpoint(**present)))
    # tf.train.Checkpoint assigns variable by variable, so a mismatch found halfway would leave the
    # model half loaded: put the values back, so that a failed load assigns nothing.
    before = [variable.numpy() for variable in model.weights]
    try:
        for part in parts:
            status = part.read(path)
            status.expect_partial()
            status.assert_existing_objects_matched()
    except (AssertionError, ValueError, tf.errors.InvalidArgumentError) as e:
        for variable, value in zip(model.weights, before):
            variable.assign(value)
        raise CheckpointMismatchError(f"checkpoint {path} does not fit the model: {e}") from None
    if missing_heads:
        logging.warning("Checkpoint %s has no %s; they keep their random initialization.", path, missing_heads)

