"""Writing a folder or file aside and moving it into place only once it is complete.

A reader (TF Serving, `transformers`, a later job) never sees a half-written folder or file under
its final name, and a killed writer leaves only a hidden sibling behind.
"""

import contextlib
import os
import uuid

import tensorflow as tf


def staging_path(path):
    """A hidden sibling of `path` to write into (TF Serving ignores its non-numeric name; a glob of
    shards such as `pretraining.tfrecord-*` does not match it)."""
    parent, name = os.path.split(path.rstrip("/"))
    return os.path.join(parent, f".{name}.incomplete-{uuid.uuid4().hex}")


def publish(staging, path):
    """Moves a complete `staging` folder or file to `path`; an old `path` is given up only now."""
    if tf.io.gfile.exists(path):
        retired = staging + ".replaced"
        tf.io.gfile.rename(path, retired)
        tf.io.gfile.rename(staging, path)
        discard(retired)
    else:
        tf.io.gfile.rename(staging, path)


def discard(staging):
    if tf.io.gfile.isdir(staging):
        tf.io.gfile.rmtree(staging)
    elif tf.io.gfile.exists(staging):
        tf.io.gfile.remove(staging)


def leftovers(pattern):
    """The staging siblings that killed writers of the paths matching the glob `pattern` left behind."""
    parent, name = os.path.split(pattern.rstrip("/"))
    return tf.io.gfile.glob(os.path.join(parent, f".{name}.incomplete-*"))


@contextlib.contextmanager
def written_aside(path):
    """Yields a staging folder to write into; publishes it as `path` if the block completes, else removes it."""
    staging = staging_path(path)
    try:
        yield staging
    except BaseException:
        discard(staging)
        raise
    publish(staging, path)
