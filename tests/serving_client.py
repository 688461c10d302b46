"""Loads SavedModels the way a server does: with tensorflow and tensorflow_text only.

    python tests/serving_client.py CALLS.pkl OUTPUTS.pkl

CALLS.pkl holds a list of (export_dir, signature, inputs), inputs {input name: array} or the index
of an earlier call whose outputs to feed (a hub-format preprocessor's into its encoder);
OUTPUTS.pkl receives the list of their {output name: array}. Fails if anything from albert_tf was
imported. Tests call `serve`, which runs this in a fresh process, several calls per process (each
start costs seconds).
"""

import os
import pickle
import subprocess
import sys

import numpy as np
import tensorflow as tf
import tensorflow_text  # noqa: F401  (registers the SentencePiece ops)


def serve(calls, tmp_path):
    """The outputs of each (export_dir, signature, inputs) of `calls`, computed in a process that
    imports only tensorflow and tensorflow_text; string inputs are lists of bytes."""
    calls_path, outputs_path = tmp_path / "calls.pkl", tmp_path / "outputs.pkl"
    as_arrays = lambda inputs: {name: np.asarray(value, dtype=_dtype(value)) for name, value in inputs.items()}
    with open(calls_path, "wb") as f:
        pickle.dump([(str(export_dir), signature, inputs if isinstance(inputs, int) else as_arrays(inputs))
                     for export_dir, signature, inputs in calls], f)
    client = subprocess.run([sys.executable, os.path.abspath(__file__), str(calls_path), str(outputs_path)],
                            capture_output=True, text=True,
                            env={"PATH": os.environ.get("PATH", ""), "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert client.returncode == 0, f"the serving client failed:\n{client.stderr}"
    with open(outputs_path, "rb") as f:
        return pickle.load(f)


def _dtype(value):
    # Bytes stay bytes objects (numpy's fixed-width "S" would strip trailing NUL bytes).
    return object if len(value) and isinstance(value[0], bytes) else None


def _main(calls_path, outputs_path):
    with open(calls_path, "rb") as f:
        calls = pickle.load(f)
    loaded = {export_dir: tf.saved_model.load(export_dir) for export_dir in dict.fromkeys(c[0] for c in calls)}
    outputs = []
    for export_dir, signature, inputs in calls:
        feed = outputs[inputs] if isinstance(inputs, int) else inputs
        result = loaded[export_dir].signatures[signature](**{name: tf.constant(v) for name, v in feed.items()})
        outputs.append({name: value.numpy() for name, value in result.items()})
    assert not any(name.startswith("albert_tf") for name in sys.modules), "albert_tf was imported"
    with open(outputs_path, "wb") as f:
        pickle.dump(outputs, f)


if __name__ == "__main__":
    _main(*sys.argv[1:])
