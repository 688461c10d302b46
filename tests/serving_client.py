"""Loads a SavedModel the way a server does: with tensorflow and tensorflow_text only.

    python tests/serving_client.py EXPORT_DIR SIGNATURE INPUTS.npz OUTPUTS.npz

Calls the signature on the arrays in INPUTS.npz and saves its outputs; fails if anything from
albert_tf was imported.
"""

import sys

import numpy as np
import tensorflow as tf
import tensorflow_text  # noqa: F401  (registers the SentencePiece ops)

export_dir, signature, inputs_path, outputs_path = sys.argv[1:]
loaded = tf.saved_model.load(export_dir)
with np.load(inputs_path, allow_pickle=True) as inputs:
    feed = {name: tf.constant(inputs[name]) for name in inputs.files}
outputs = loaded.signatures[signature](**feed)
assert not any(name.startswith("albert_tf") for name in sys.modules), "albert_tf was imported"
np.savez(outputs_path, **{name: value.numpy() for name, value in outputs.items()})
