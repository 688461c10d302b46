"""Exports ALBERT as a SavedModel for TF Serving, taking raw strings (and token ids).

    python run/export_saved_model.py --task=classifier --task_name=sst-2 \
        --albert_config_file=… --spm_model_file=… --init_checkpoint=out/sst2/model.ckpt-best \
        --export_dir=exports/sst2 --version=1 --max_seq_length=128

writes exports/sst2/1/ (TF Serving's versioned layout). See README "Serving" for the signatures.
--init_checkpoint may be any checkpoint albert_tf reads; a Hugging Face folder, a keras-hub preset or a
TF1 Hub module brings its config, SentencePiece model, lowercasing and (HF classifiers) label names:

    python run/export_saved_model.py --init_checkpoint=hf_sst2_model --task=classifier --export_dir=exports/sst2
"""

import math

from absl import app, flags, logging

import startup  # noqa: I001  (first: quiet start-up, TensorFlow after the flags)
import checkpoint_flags
from albert_tf.constants import EXPORT_TASKS

serving = startup.lazy_import("albert_tf.export.serving")
glue = startup.lazy_import("albert_tf.finetuning.glue")

flags.DEFINE_string("albert_config_file", None, "albert_config.json of the model (default: the checkpoint's).")
flags.DEFINE_string("init_checkpoint", None, "Checkpoint to export, with the task's head: original TF1, native, a "
                    "Hugging Face folder, a keras-hub preset or an untarred TF1 Hub module.")
flags.DEFINE_string("spm_model_file", None, "SentencePiece model of the model (default: the checkpoint's).")
flags.DEFINE_enum("task", "encoder", list(EXPORT_TASKS), "Which model and outputs to export.")
flags.DEFINE_string("export_dir", None, "The model's directory; the export goes to <export_dir>/<version>.")
flags.DEFINE_integer("version", 1, "Version subdirectory (TF Serving serves the highest).")
flags.DEFINE_bool("overwrite", False, "Replace an existing version directory (only once the new export is complete).")
flags.DEFINE_bool("hub_format", False, "Write a TF-Hub-style pair: <export_dir>/preprocessor/<version> (text → "
                  "ids, as serving_default reads the text) and <export_dir>/encoder/<version> (serving_ids).")
flags.DEFINE_integer("max_seq_length", 512, "Longest token sequence; longer text is truncated as in training. "
                     "At most the config's max_position_embeddings.")
flags.DEFINE_bool("do_lower_case", True, "Lowercase the input (must match the model; default: what a Hugging Face "
                  "checkpoint declares, else true).")
flags.DEFINE_bool("pair_input", True, "Text tasks take text_b beside text_a (an empty text_b is one segment); "
                  "default false for a single-sentence --task_name (CoLA, SST-2), else true.")
flags.DEFINE_string("task_name", None, "classifier: a GLUE task whose label names to export.")
flags.DEFINE_list("label_names", None, "classifier: label names, one per class (instead of --task_name; default: "
                  "a Hugging Face checkpoint's id2label).")
flags.DEFINE_bool("version_2_with_negative", False, "squad: the model is a SQuAD 2.0 model.")
flags.DEFINE_integer("start_n_top", 5, "squad v2.0: starts considered.")
flags.DEFINE_integer("end_n_top", 5, "squad v2.0: ends considered per start.")
flags.DEFINE_integer("max_query_length", 64, "squad: question tokens kept.")
flags.DEFINE_integer("max_answer_length", 30, "squad: longest answer in tokens.")
flags.DEFINE_float("null_score_diff_threshold", 0.0, "squad v2.0: answer \"\" when the null score reaches this.")
flags.DEFINE_integer("top_k", 5, "pretraining: fill-ins returned per [MASK].")
checkpoint_flags.define_serving_dtype_flag()
flags.DEFINE_float("threshold_to_export", float("nan"), "classifier: also output this constant as `threshold` "
                   "(as the original run_classifier.py's flag).")
FLAGS = flags.FLAGS


def pair_input():
    if FLAGS["pair_input"].present or not FLAGS.task_name or FLAGS.task != "classifier":
        return FLAGS.pair_input
    return glue.get_task(FLAGS.task_name).train.text_b is not None


def main(argv):
    del argv
    files = checkpoint_flags.resolve(FLAGS.init_checkpoint)
    try:  # before anything is built; checked again when the export is put in place
        serving.export_paths(FLAGS.export_dir, FLAGS.version, FLAGS.overwrite, FLAGS.hub_format)
    except FileExistsError as e:
        raise app.UsageError(f"--export_dir: {e}") from None
    model, labels = checkpoint_flags.load_task_model(files, checkpoint_flags.serving_policy())
    config = serving.ExportConfig(
        task=FLAGS.task, max_seq_length=FLAGS.max_seq_length, do_lower_case=files.do_lower_case,
        pair_input=pair_input(), label_names=labels, top_k=FLAGS.top_k,
        max_query_length=FLAGS.max_query_length, max_answer_length=FLAGS.max_answer_length,
        null_score_diff_threshold=FLAGS.null_score_diff_threshold,
        threshold=None if math.isnan(FLAGS.threshold_to_export) else FLAGS.threshold_to_export)
    try:
        path = serving.export_saved_model(model, config, files.spm_model_file, FLAGS.export_dir, FLAGS.version,
                                          FLAGS.overwrite, FLAGS.hub_format)
    except (FileExistsError, serving.ExportConfigError) as e:
        raise app.UsageError(str(e)) from None
    logging.info("Exported to %s.", path)
    print(path)


if __name__ == "__main__":
    flags.mark_flags_as_required(["init_checkpoint", "export_dir"])
    startup.run(main)
