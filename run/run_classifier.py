"""Fine-tunes ALBERT on a GLUE task; evaluates every checkpoint; predicts the test set.

    python run/run_classifier.py --task_name=MRPC --data_dir=glue/MRPC \
        --albert_config_file=… --spm_model_file=… --init_checkpoint=… --output_dir=out/mrpc \
        --do_train --do_eval --do_predict

Accepts the original run_classifier.py flags. Outputs in --output_dir: checkpoints,
eval_results.txt (every evaluated checkpoint), best_trial.txt and model.ckpt-best (best by the
task's metric), test_results.tsv (class probabilities, or the score for STS-B) and
submit_results.tsv (GLUE's submission format), TensorBoard summaries; with --export_dir, a
SavedModel for TF Serving that takes raw text.
"""

import math
import os
import time

import numpy as np
from absl import app, flags, logging

import startup  # noqa: I001  (first: quiet start-up, TensorFlow after the flags)
import albert_tf
import checkpoint_flags
import finetuning_flags
import job_flags
from albert_tf.constants import GLUE_TASK_NAMES

tf = startup.lazy_import("tensorflow")
serving = startup.lazy_import("albert_tf.export.serving")
feature_cache = startup.lazy_import("albert_tf.finetuning.feature_cache")
glue = startup.lazy_import("albert_tf.finetuning.glue")
staging = startup.lazy_import("albert_tf.staging")

finetuning_flags.define_common_flags(max_seq_length=512, learning_rate=5e-5, save_checkpoints_steps=1000,
                                     train_steps=1000, warmup_steps=0)
flags.DEFINE_string("data_dir", None, "The GLUE folder with the task's subfolder (<data_dir>/MNLI/train.tsv, as the "
                    "original reads it), or the task's own folder of TSV files.")
flags.DEFINE_string("task_name", None, f"One of {sorted(GLUE_TASK_NAMES)} (case-insensitive).")
flags.DEFINE_string("tfds_name", None, "Instead of --data_dir: a GLUE dataset prepared by TensorFlow Datasets, "
                    "e.g. glue/mrpc (read from --tfds_data_dir, never downloaded).")
flags.DEFINE_string("tfds_data_dir", os.path.expanduser("~/tensorflow_datasets"), "Where --tfds_name is prepared.")
flags.DEFINE_string("cached_dir", None, "Where tokenized features are cached (default: --output_dir).")
flags.DEFINE_float("classifier_dropout", 0.1, "Dropout on the pooled output (the original hardcoded 0.1).")
flags.DEFINE_string("export_dir", None, "After the run, export model.ckpt-best (else the latest checkpoint) as a "
                    "SavedModel for TF Serving to <export_dir>/<unix time> (as the original's Estimator did); "
                    "run/export_saved_model.py exports with more choices.")
flags.DEFINE_float("threshold_to_export", float("nan"), "With --export_dir: also output this constant as "
                   "`threshold` (the original's flag).")
checkpoint_flags.define_serving_dtype_flag()
FLAGS = flags.FLAGS


def data_file(task, split):
    try:
        return glue.split_path(FLAGS.data_dir, task, split)
    except FileNotFoundError as e:
        raise app.UsageError(f"--data_dir: {e}") from None


def cached_features(task, split, tokenizer):
    """The split's features, tokenized once and then read from --cached_dir."""
    cache_dir = FLAGS.cached_dir or FLAGS.output_dir
    tf.io.gfile.makedirs(cache_dir)
    if FLAGS.tfds_name:
        source = {"data": f"tfds:{glue.tfds_dataset_dir(FLAGS.tfds_name, FLAGS.tfds_data_dir)}"}
    else:
        path = data_file(task, split)
        source = {"data": os.path.abspath(path), "sha256": feature_cache.files_digest([path])}
    key = {**source, "spm_model_file": os.path.abspath(FLAGS.spm_model_file), "do_lower_case": FLAGS.do_lower_case,
           "max_seq_length": FLAGS.max_seq_length}

    def build():
        if FLAGS.tfds_name:
            examples = glue.read_tfds_examples(FLAGS.tfds_name, FLAGS.tfds_data_dir, task, split)
        else:
            examples = glue.read_examples(FLAGS.data_dir, task, split)
        features, stats = glue.build_features(examples, task, tokenizer, FLAGS.max_seq_length)
        return features, {**stats, "ids": [example.guid.split("-", 1)[1] for example in examples]}

    return feature_cache.load_or_build(os.path.join(cache_dir, f"{task.name}_{split}"), key, build,
                                       glue.feature_spec(task, FLAGS.max_seq_length), f"{task.name} {split}")


def labels_of(features, task):
    key = "label" if task.is_regression else "label_ids"
    return np.array([feature[key] for feature in features.as_numpy_iterator()])


def write_predictions(task, logits, ids):
    """test_results.tsv: probabilities (or scores); submit_results.tsv: GLUE's index/prediction."""
    if task.is_regression:
        scores, predictions = logits[:, :1], [f"{value:.3f}" for value in logits[:, 0]]
    else:
        scores = tf.nn.softmax(logits).numpy()
        predictions = [task.labels[i] for i in np.argmax(logits, axis=-1)]
    staging.write_text(os.path.join(FLAGS.output_dir, "test_results.tsv"),
                       "".join("\t".join(str(p) for p in row) + "\n" for row in scores))
    rows = "".join(f"{index}\t{prediction}\n" for index, prediction in zip(ids, predictions))
    staging.write_text(os.path.join(FLAGS.output_dir, "submit_results.tsv"), "index\tprediction\n" + rows)


def main(argv):
    del argv
    finetuning_flags.check_common_flags()
    if bool(FLAGS.data_dir) == bool(FLAGS.tfds_name):
        raise app.UsageError("pass exactly one of --data_dir (GLUE TSV files) and --tfds_name")
    task = glue.get_task(FLAGS.task_name)
    if FLAGS.data_dir:  # every file the job will read, found before any work
        for split, wanted in (("train", FLAGS.do_train), ("dev", FLAGS.do_eval), ("test", FLAGS.do_predict)):
            if wanted:
                data_file(task, split)
    albert_config, tokenizer = finetuning_flags.albert_config_and_tokenizer()
    strategy = job_flags.create_strategy()
    with job_flags.output_dir_locked(strategy):
        config = finetuning_flags.finetuning_config()
        finetuner = finetuning_flags.create_finetuner(
            strategy, lambda dtype: albert_tf.AlbertClassifier(albert_config, task.num_labels, FLAGS.classifier_dropout,
                                                               dtype=dtype),
            glue.per_example_loss(task), config)
        if FLAGS.do_train:  # a checkpoint that cannot be resumed fails before flags.txt is rewritten
            finetuning_flags.restore_for_training(finetuner)
        job_flags.record_flags(strategy)

        evaluate = None
        if FLAGS.do_eval:
            eval_features, _ = cached_features(task, "dev", tokenizer)
            eval_labels = labels_of(eval_features, task)
            loss_fn = glue.per_example_loss(task)

            def evaluate():
                logits = finetuner.predict(eval_features, config.eval_batch_size)["logits"]
                label_key = "label" if task.is_regression else "label_ids"
                loss = float(np.mean(loss_fn({"logits": tf.constant(logits)}, {label_key: tf.constant(eval_labels)})))
                # "loss" as the original's Estimator wrote it beside eval_loss (there a mean over batches)
                return {**glue.task_metrics(task, eval_labels, logits), "eval_loss": loss, "loss": loss}

        if FLAGS.do_train:
            train_features, _ = cached_features(task, "train", tokenizer)
            finetuner.train(train_features, evaluate, task.metric)
        elif FLAGS.do_eval:
            finetuner.evaluate_all_checkpoints(evaluate, task.metric)
        if FLAGS.do_predict:
            finetuning_flags.restore_for_inference(finetuner)
            test_features, stats = cached_features(task, "test", tokenizer)
            write_predictions(task, finetuner.predict(test_features, config.predict_batch_size)["logits"], stats["ids"])
            logging.info("Wrote test_results.tsv and submit_results.tsv to %s.", FLAGS.output_dir)
        exported = None
        if FLAGS.export_dir:
            exported = export(finetuning_flags.restore_for_inference(finetuner), albert_config, task)
        finetuning_flags.print_summary(f"run_classifier.py {task.name}", ("eval_results.txt", "test_results.tsv",
                                                                          "submit_results.tsv"))
        if exported:
            print(f"  exported {exported}")


def export(checkpoint, albert_config, task):
    """`checkpoint`'s classifier as a SavedModel taking raw text (the task's label names, its text
    inputs), in --serving_dtype whatever --mixed_precision trained in."""
    model = albert_tf.AlbertClassifier(albert_config, task.num_labels, dtype=checkpoint_flags.serving_policy())
    albert_tf.load_checkpoint(model, checkpoint)
    config = serving.ExportConfig(task="classifier", max_seq_length=FLAGS.max_seq_length, do_lower_case=FLAGS.do_lower_case,
                          pair_input=task.train.text_b is not None, label_names=task.labels or ("score",),
                          threshold=None if math.isnan(FLAGS.threshold_to_export) else FLAGS.threshold_to_export)
    path = serving.export_saved_model(model, config, FLAGS.spm_model_file, FLAGS.export_dir, version=int(time.time()))
    logging.info("Exported to %s.", path)
    return path


if __name__ == "__main__":
    flags.mark_flags_as_required(["task_name"])
    startup.run(main)
