"""Converts a checkpoint between the original TF1 names and albert_tf's native TF2 format.

The direction follows the input: an original checkpoint (`bert/...`, `cls/...`) becomes a
native one (`tf.train.Checkpoint(model=...)`), and a native one becomes original. Pretraining
heads are carried when the input has them.

    python run/convert_checkpoint.py --albert_config_file=albert_config.json \\
        --input_checkpoint=albert_base/model.ckpt-best --output_checkpoint=native/ckpt
"""

from absl import app, flags, logging

import albert_tf
from albert_tf.checkpoint import (checkpoint_has_heads, is_native_checkpoint, load_native_checkpoint,
                                  load_original_checkpoint, save_native_checkpoint, save_original_checkpoint)

flags.DEFINE_string("albert_config_file", None, "The model's albert_config.json.")
flags.DEFINE_string("input_checkpoint", None, "Checkpoint prefix (or directory) to convert.")
flags.DEFINE_string("output_checkpoint", None, "Prefix of the converted checkpoint.")
flags.mark_flags_as_required(["albert_config_file", "input_checkpoint", "output_checkpoint"])
FLAGS = flags.FLAGS


def main(argv):
    del argv
    config = albert_tf.AlbertConfig.from_json_file(FLAGS.albert_config_file)
    with_heads = checkpoint_has_heads(FLAGS.input_checkpoint)
    model = albert_tf.AlbertPretrainer(config) if with_heads else albert_tf.AlbertEncoder(config)
    if is_native_checkpoint(FLAGS.input_checkpoint):
        load_native_checkpoint(model, FLAGS.input_checkpoint)
        written = save_original_checkpoint(model, FLAGS.output_checkpoint)
        kind = "original (TF1 names)"
    else:
        load_original_checkpoint(model, FLAGS.input_checkpoint)
        written = save_native_checkpoint(model, FLAGS.output_checkpoint)
        kind = "native (tf.train.Checkpoint)"
    logging.info("Wrote %s checkpoint %s (%s, %d parameters).", kind, written,
                 "with pretraining heads" if with_heads else "encoder only", model.count_params())


if __name__ == "__main__":
    app.run(main)
