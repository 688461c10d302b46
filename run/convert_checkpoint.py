"""Converts a checkpoint between every format albert_tf reads and writes.

    python run/convert_checkpoint.py --input_checkpoint=albert-base-v2 --output_checkpoint=native/ckpt
    python run/convert_checkpoint.py --input_checkpoint=out/sst2/model.ckpt-best --task_name=sst-2 \\
        --output_format=huggingface --output_checkpoint=hf_sst2 --spm_model_file=30k-clean.model

The input's format is detected from the path: an original TF1 checkpoint (`bert/...` names), a
native one, a Hugging Face folder, a keras-hub preset or an untarred TF1 Hub module. Everything
the input holds is carried: the encoder, and the pretraining or fine-tuning heads. Without
--output_format, original becomes native and everything else becomes original.
--albert_config_file and --spm_model_file are needed only where the input carries none.
"""


from absl import app, flags, logging

import startup  # noqa: I001  (first: quiet start-up, TensorFlow after the flags)
import checkpoint_flags

checkpoints = startup.lazy_import("albert_tf.checkpoint")
glue = startup.lazy_import("albert_tf.finetuning.glue")

flags.DEFINE_string("input_checkpoint", None, "Checkpoint prefix, directory, Hugging Face folder, keras-hub preset "
                    "or TF1 Hub module to convert.")
flags.DEFINE_string("output_checkpoint", None, "Prefix (original, native) or folder (huggingface, keras_hub) to write.")
flags.DEFINE_enum("output_format", None, ["original", "native", "huggingface", "keras_hub"],
                  "Format to write (default: native for an original input, else original).")
flags.DEFINE_string("albert_config_file", None, "The model's albert_config.json (default: the input's).")
flags.DEFINE_string("spm_model_file", None, "SentencePiece model to write beside a huggingface or keras_hub output "
                    "(default: the input's).")
flags.DEFINE_bool("do_lower_case", True, "huggingface output: the tokenizer's lowercasing (default: the input's, "
                  "else true).")
flags.DEFINE_list("label_names", None, "huggingface output of a classifier: class names (default: the input's, "
                  "else from --task_name, else LABEL_0, LABEL_1, ...).")
flags.DEFINE_string("task_name", None, "huggingface output of a classifier: the GLUE task whose label names to write.")
flags.DEFINE_bool("overwrite", False, "Replace an existing huggingface or keras_hub output folder.")
flags.mark_flags_as_required(["input_checkpoint", "output_checkpoint"])
FLAGS = flags.FLAGS


def label_names(info):
    if FLAGS.label_names:
        return tuple(FLAGS.label_names)
    if FLAGS.task_name:
        return glue.get_task(FLAGS.task_name).labels or ("score",)
    return info.label_names


def main(argv):
    del argv
    files = checkpoint_flags.resolve(FLAGS.input_checkpoint, "input_checkpoint", need_spm_model=False)
    info = files.checkpoint
    output_format = FLAGS.output_format or ("native" if info.format == "original" else "original")
    labels = label_names(info) if info.task == "classifier" else ()
    try:
        model = checkpoints.build_model(info, files.config, label_names=labels)
        # Carry what the input has: a part it lacks (the pooler and sentence-order head of a transformers
        # AlbertForMaskedLM folder) keeps its random initialization and is named in a warning.
        report = checkpoints.load_checkpoint(model, FLAGS.input_checkpoint, allow_missing_heads=True)
        written = checkpoints.save_checkpoint(model, FLAGS.output_checkpoint, output_format, spm_model_file=files.spm_model_file,
                                  do_lower_case=files.do_lower_case, label_names=labels, overwrite=FLAGS.overwrite)
    except (ValueError, FileExistsError) as e:
        raise app.UsageError(str(e)) from None
    logging.info("Wrote %s (%s, %s model, %d parameters) from %s (%s).", written, output_format, info.task,
                 model.count_params(), FLAGS.input_checkpoint, info.format)
    if report is not None and report.missing_heads:
        logging.warning("Not in %s, written with random initialization: %s", FLAGS.input_checkpoint,
                        report.missing_heads)
    print(written)


if __name__ == "__main__":
    startup.run(main)
