"""Calls a SavedModel export with raw strings, as TF Serving would, and prints what it returns.

    python run/call_export.py --export_dir=tfrecords/exports/sst2/1 --text_a="I did not go." --text_a="He went home."

Each repeated input flag is one row of the batch: --text_a (and --text_b for pair exports), or
--question and --context for SQuAD exports. It needs only TensorFlow and TF Text, as a server does.
(`saved_model_cli run` cannot load these exports: it does not import tensorflow_text, which
registers the SentencePiece ops.)
"""

import json
import os

from absl import app, flags

import startup  # quiet start-up, TensorFlow after the flags

flags.DEFINE_string("export_dir", None, "A version directory of an export (e.g. exports/sst2/1).")
flags.DEFINE_string("signature", "serving_default", "The signature to call.")
flags.DEFINE_multi_string("text_a", [], "First text of each row.")
flags.DEFINE_multi_string("text_b", [], "Second text of each row (pair exports).")
flags.DEFINE_multi_string("question", [], "SQuAD exports: the question of each row.")
flags.DEFINE_multi_string("context", [], "SQuAD exports: the context of each row.")
flags.mark_flags_as_required(["export_dir"])
FLAGS = flags.FLAGS


def main(argv):
    del argv
    import tensorflow as tf
    import tensorflow_text  # noqa: F401  (registers the SentencePiece ops; must come before loading)

    if not tf.io.gfile.exists(os.path.join(FLAGS.export_dir, "saved_model.pb")):
        raise app.UsageError(f"--export_dir={FLAGS.export_dir} has no saved_model.pb (give a version directory, "
                             "e.g. exports/sst2/1)")
    signature = tf.saved_model.load(FLAGS.export_dir).signatures.get(FLAGS.signature)
    if signature is None:
        raise app.UsageError(f"--signature={FLAGS.signature}: the export has no such signature")
    given = {name: getattr(FLAGS, name) for name in ("text_a", "text_b", "question", "context") if getattr(FLAGS, name)}
    expected = sorted(signature.structured_input_signature[1])
    if sorted(given) != expected:
        raise app.UsageError(f"this signature takes {', '.join('--' + n for n in expected)}; got "
                             f"{', '.join('--' + n for n in sorted(given)) or 'none'}")
    if len({len(rows) for rows in given.values()}) != 1:
        raise app.UsageError("give every input flag once per row (the same number of times)")
    outputs = signature(**{name: tf.constant(rows) for name, rows in given.items()})
    # One output per line, the whole a JSON object.
    print("{\n" + ",\n".join(f" {json.dumps(name)}: {json.dumps(_plain(value.numpy()))}"
                              for name, value in sorted(outputs.items())) + "\n}")


def _plain(array):
    """Nested lists for JSON, strings decoded."""
    if array.dtype != object:
        return array.tolist()
    return [_plain(row) if isinstance(row, type(array)) else row.decode("utf-8", "replace") for row in array]


if __name__ == "__main__":
    startup.run(main)
