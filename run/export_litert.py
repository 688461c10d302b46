"""Exports ALBERT as a LiteRT (TFLite) file for phones and edge devices, taking token ids.

    python run/export_litert.py --task=classifier --task_name=sst-2 \
        --albert_config_file=… --init_checkpoint=out/sst2/model.ckpt-best \
        --output_file=sst2.tflite --max_seq_length=128 --quantization=dynamic_int8

See README "On-device" for the signature per task, running the file with the LiteRT interpreter
(`pip install -e .[litert]`) and what each --quantization costs. --init_checkpoint may be any
checkpoint albert_tf reads; a Hugging Face folder, a keras-hub preset or a TF1 Hub module brings
its config (and, for Hugging Face classifiers, the number of labels).
"""

from absl import app, flags, logging

import startup  # noqa: I001  (first: quiet start-up, TensorFlow after the flags)
import checkpoint_flags
from albert_tf.constants import EXPORT_TASKS, LITERT_QUANTIZATIONS

litert = startup.lazy_import("albert_tf.export.litert")
serving = startup.lazy_import("albert_tf.export.serving")
tf = startup.lazy_import("tensorflow")

flags.DEFINE_string("albert_config_file", None, "albert_config.json of the model (default: the checkpoint's).")
flags.DEFINE_string("init_checkpoint", None, "Checkpoint to export, with the task's head: original TF1, native, a "
                    "Hugging Face folder, a keras-hub preset or an untarred TF1 Hub module.")
flags.DEFINE_enum("task", "encoder", list(EXPORT_TASKS), "Which model and outputs to export.")
flags.DEFINE_string("output_file", None, "The .tflite file to write (replaced only once the new one is complete).")
flags.DEFINE_enum("quantization", "none", list(LITERT_QUANTIZATIONS), "Weights stored as float32 (none), float16, "
                  "or int8 with activations quantized per batch (dynamic_int8).")
flags.DEFINE_integer("max_seq_length", 128, "The file's fixed sequence length (inputs are padded to it). At most the "
                     "config's max_position_embeddings.")
flags.DEFINE_string("task_name", None,
                  "classifier: the GLUE task whose labels the model predicts.")
flags.DEFINE_list("label_names", None, "classifier: label names, one per class (instead of --task_name).")
flags.DEFINE_bool("version_2_with_negative", False, "squad: the model is a SQuAD 2.0 model.")
flags.DEFINE_integer("start_n_top", 5, "squad v2.0: starts considered.")
flags.DEFINE_integer("end_n_top", 5, "squad v2.0: ends considered per start.")
flags.DEFINE_integer("max_answer_length", 30, "squad: longest answer in tokens.")
flags.DEFINE_integer("top_k", 5, "pretraining: fill-ins returned per masked position.")
flags.DEFINE_integer("max_predictions_per_seq", 20, "pretraining: masked positions per sequence (the width of "
                     "the masked_lm_positions input).")
FLAGS = flags.FLAGS


def main(argv):
    del argv
    files = checkpoint_flags.resolve(FLAGS.init_checkpoint, need_spm_model=False)
    config = litert.LiteRTConfig(task=FLAGS.task, max_seq_length=FLAGS.max_seq_length,
                                 quantization=FLAGS.quantization, top_k=FLAGS.top_k,
                                 max_predictions_per_seq=FLAGS.max_predictions_per_seq,
                                 max_answer_length=FLAGS.max_answer_length)
    try:
        litert.check_config(config, files.config)
    except serving.ExportConfigError as e:
        raise app.UsageError(str(e)) from None
    model, _ = checkpoint_flags.load_task_model(files)
    path = litert.export_litert(model, config, FLAGS.output_file)
    logging.info("Exported to %s (%.1f MB, quantization %s).", path, tf.io.gfile.stat(path).length / 1e6,
                 FLAGS.quantization)
    print(path)


if __name__ == "__main__":
    flags.mark_flags_as_required(["init_checkpoint", "output_file"])
    startup.run(main)
