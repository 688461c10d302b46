"""Fine-tunes ALBERT on RACE (multiple choice, 4 options); evaluates every checkpoint; predicts.

    python run/run_race.py --data_dir=RACE --albert_config_file=… --spm_model_file=… \
        --init_checkpoint=… --output_dir=out/race --do_train --do_eval --do_predict

Accepts the original run_race.py flags and defaults (lr 1e-5, 12000 steps, 1000 warmup).
Outputs in --output_dir: checkpoints, eval_results.txt (dev accuracy, also per level),
best_trial.txt and model.ckpt-best, predict_results.txt (accuracy on test, which RACE labels)
and test_predictions.tsv (the chosen option per question), TensorBoard summaries.
"""

import dataclasses
import hashlib
import os

import numpy as np
from absl import app, flags, logging

import startup  # noqa: I001  (first: quiet start-up, TensorFlow after the flags)
import albert_tf
import finetuning_flags
import job_flags

tf = startup.lazy_import("tensorflow")
staging = startup.lazy_import("albert_tf.staging")
feature_cache = startup.lazy_import("albert_tf.finetuning.feature_cache")
race = startup.lazy_import("albert_tf.finetuning.race")

finetuning_flags.define_common_flags(max_seq_length=512, learning_rate=1e-5, save_checkpoints_steps=100,
                                     train_steps=12000, warmup_steps=1000)
flags.DEFINE_string("data_dir", None, "RACE directory: {train,dev,test}/{middle,high}/*.txt.")
flags.DEFINE_string("task_name", "race", "Only 'race'.")
flags.DEFINE_string("cached_dir", None, "Where tokenized features are cached (default: --output_dir).")
flags.DEFINE_string("train_file", None, "Training feature cache path prefix (default: <cached_dir>/race_train).")
flags.DEFINE_string("eval_file", None, "Dev feature cache path prefix (default: <cached_dir>/race_dev).")
flags.DEFINE_string("predict_file", None, "Test feature cache path prefix (default: <cached_dir>/race_test).")
flags.DEFINE_float("dropout_prob", 0.1, "Dropout on the pooled output before the choice scorer.")
flags.DEFINE_integer("max_qa_length", 128, "Question + option tokens kept (the last ones).")
flags.DEFINE_bool("high_only", False, "Only the high-school questions.")
flags.DEFINE_bool("middle_only", False, "Only the middle-school questions.")
flags.DEFINE_integer("num_keep_checkpoint", None, "The original's name for --keep_checkpoint_max (which it ignored); "
                     "when given, it wins.")
FLAGS = flags.FLAGS


def levels():
    if FLAGS.high_only and FLAGS.middle_only:
        raise app.UsageError("--high_only and --middle_only exclude each other")
    return ("high",) if FLAGS.high_only else ("middle",) if FLAGS.middle_only else race.LEVELS


def cached_features(split, path_flag, tokenizer):
    """The split's examples' levels and features, tokenized once and then read from the cache."""
    cache_dir = FLAGS.cached_dir or FLAGS.output_dir
    tf.io.gfile.makedirs(cache_dir)
    path = feature_cache.cache_path(path_flag, os.path.join(cache_dir, f"race_{split}"))
    files = [file for _, file in race.split_files(FLAGS.data_dir, split, levels())]
    key = {"data_dir": os.path.abspath(FLAGS.data_dir), "levels": list(levels()),
           "sha256": feature_cache.files_digest(files),
           # Example ids are file names: a renamed file changes them.
           "names_sha256": hashlib.sha256("\n".join(os.path.relpath(p, FLAGS.data_dir) for p in files).encode()
                                          ).hexdigest(),
           "spm_model_file": os.path.abspath(FLAGS.spm_model_file), "do_lower_case": FLAGS.do_lower_case,
           "max_seq_length": FLAGS.max_seq_length, "max_qa_length": FLAGS.max_qa_length}

    def build():
        examples = race.read_examples(FLAGS.data_dir, split, levels())
        features, stats = race.build_features(examples, tokenizer, FLAGS.max_seq_length, FLAGS.max_qa_length)
        return features, {**stats, "levels": [e.level for e in examples], "ids": [e.guid for e in examples]}

    return feature_cache.load_or_build(path, key, build, race.feature_spec(FLAGS.max_seq_length), f"RACE {split}")


def evaluator(finetuner, features, stats, batch_size):
    labels = np.array([feature["label_ids"] for feature in features.as_numpy_iterator()])

    def evaluate():
        logits = finetuner.predict(features, batch_size)["logits"]
        loss = float(np.mean(race.per_example_loss({"logits": tf.constant(logits)}, {"label_ids": tf.constant(labels)})))
        return {**race.race_metrics(labels, logits, stats["levels"]), "eval_loss": loss, "loss": loss}

    return evaluate


def main(argv):
    del argv
    finetuning_flags.check_common_flags()
    if FLAGS.task_name.lower() != "race":
        raise app.UsageError(f"--task_name={FLAGS.task_name!r}: run_race.py runs only 'race'")
    albert_config, tokenizer = finetuning_flags.albert_config_and_tokenizer()
    strategy = job_flags.create_strategy()
    with job_flags.output_dir_locked(strategy):
        config = finetuning_flags.finetuning_config()
        if FLAGS.num_keep_checkpoint is not None:
            config = dataclasses.replace(config, keep_checkpoint_max=FLAGS.num_keep_checkpoint)
        finetuner = finetuning_flags.create_finetuner(
            strategy, lambda dtype: albert_tf.AlbertMultipleChoice(albert_config, race.NUM_CHOICES, FLAGS.dropout_prob,
                                                                   dtype=dtype),
            race.per_example_loss, config)
        if FLAGS.do_train:  # a checkpoint that cannot be resumed fails before flags.txt is rewritten
            finetuning_flags.restore_for_training(finetuner)
        job_flags.record_flags(strategy)

        evaluate = None
        if FLAGS.do_eval:
            evaluate = evaluator(finetuner, *cached_features("dev", FLAGS.eval_file, tokenizer), config.eval_batch_size)
        if FLAGS.do_train:
            train_features, _ = cached_features("train", FLAGS.train_file, tokenizer)
            finetuner.train(train_features, evaluate, "eval_accuracy")
        elif FLAGS.do_eval:
            finetuner.evaluate_all_checkpoints(evaluate, "eval_accuracy")
        if FLAGS.do_predict:
            finetuning_flags.restore_for_inference(finetuner)
            test_features, stats = cached_features("test", FLAGS.predict_file, tokenizer)
            logits = finetuner.predict(test_features, config.predict_batch_size)["logits"]
            labels = np.array([feature["label_ids"] for feature in test_features.as_numpy_iterator()])
            results = race.race_metrics(labels, logits, stats["levels"])
            staging.write_text(os.path.join(FLAGS.output_dir, "predict_results.txt"),
                               "".join(f"{key} = {value}\n" for key, value in results.items()))
            staging.write_text(os.path.join(FLAGS.output_dir, "test_predictions.tsv"),
                               "id\tprediction\n" + "".join(f"{guid}\t{race.ANSWERS[choice]}\n" for guid, choice in
                                                            zip(stats["ids"], np.argmax(logits, axis=-1))))
            logging.info("test: %s", ", ".join(f"{k} = {v:.4f}" for k, v in results.items()))
        finetuning_flags.print_summary("run_race.py",
                                       ("eval_results.txt", "predict_results.txt", "test_predictions.tsv"),
                                       results if FLAGS.do_predict else None)


if __name__ == "__main__":
    flags.mark_flags_as_required(["data_dir"])
    startup.run(main)
