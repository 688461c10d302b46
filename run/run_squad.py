"""Fine-tunes ALBERT on SQuAD v1.1 or v2.0 (--version_2_with_negative) and predicts answers.

    python run/run_squad.py --train_file=train-v2.0.json --predict_file=dev-v2.0.json \
        --version_2_with_negative --null_threshold_file=heldout-v2.0.json \
        --albert_config_file=… --spm_model_file=… --init_checkpoint=… --output_dir=out/squad2 \
        --do_train --do_predict

Accepts the original run_squad_v1.py / run_squad_v2.py flags. Outputs in --output_dir:
checkpoints; predictions.json, nbest_predictions.json and (v2) null_odds.json; when the predict
file has answers, eval_results.txt with EM/F1 by the official rules for every evaluated
checkpoint and model.ckpt-best (best F1). The v2 no-answer threshold is
--null_score_diff_threshold, or tuned on --null_threshold_file (a held-out file with answers),
never on the evaluated file itself (the original tuned it on the dev set it reported).
"""

import json
import os

from absl import app, flags, logging

import startup  # noqa: I001  (first: quiet start-up, TensorFlow after the flags)
import albert_tf
import checkpoint_flags
import finetuning_flags
import job_flags

tf = startup.lazy_import("tensorflow")
staging = startup.lazy_import("albert_tf.staging")
feature_cache = startup.lazy_import("albert_tf.finetuning.feature_cache")
litert = startup.lazy_import("albert_tf.export.litert")
serving = startup.lazy_import("albert_tf.export.serving")
squad_data = startup.lazy_import("albert_tf.finetuning.squad_data")
squad_loss = startup.lazy_import("albert_tf.finetuning.squad_loss")
squad_metrics = startup.lazy_import("albert_tf.finetuning.squad_metrics")
squad_postprocess = startup.lazy_import("albert_tf.finetuning.squad_postprocess")

finetuning_flags.define_common_flags(max_seq_length=384, learning_rate=5e-5, save_checkpoints_steps=1000)
flags.DEFINE_string("train_file", None, "SQuAD JSON for training.")
flags.DEFINE_string("predict_file", None, "SQuAD JSON to predict (and evaluate, when it has answers).")
flags.DEFINE_string("train_feature_file", None, "Training feature cache: <prefix>[.tf_record] with a <prefix>.json "
                    "note (default: <output_dir>/train).")
flags.DEFINE_string("predict_feature_file", None, "Predict feature cache: <prefix>[.tf_record] with a <prefix>.json "
                    "note (default: <output_dir>/predict).")
flags.DEFINE_string("predict_feature_left_file", None, "Original flag (pickled windows); the cache's .json holds them.")
flags.DEFINE_bool("version_2_with_negative", False, "SQuAD 2.0: questions may have no answer.")
flags.DEFINE_integer("doc_stride", 128, "Stride between context windows, in tokens.")
flags.DEFINE_integer("max_query_length", 64, "Question tokens kept.")
flags.DEFINE_float("num_train_epochs", 3.0, "Training epochs, counted in questions as the original: "
                   "steps = questions / train_batch_size * epochs.")
flags.DEFINE_float("warmup_proportion", 0.1, "Share of the training steps spent warming up.")
flags.DEFINE_integer("n_best_size", 20, "Candidates kept per question in nbest_predictions.json.")
flags.DEFINE_integer("max_answer_length", 30, "Longest answer, in tokens.")
flags.DEFINE_integer("start_n_top", 5, "v2: start positions considered.")
flags.DEFINE_integer("end_n_top", 5, "v2: end positions considered per start.")
flags.DEFINE_float("dropout_prob", 0.1, "v2: dropout in the answerability head.")
flags.DEFINE_float("null_score_diff_threshold", 0.0, "v2: answer \"\" when a question's null score reaches this.")
flags.DEFINE_string("null_threshold_file", None, "v2: a held-out SQuAD JSON with answers on which to tune the "
                    "threshold (replaces --null_score_diff_threshold).")
flags.DEFINE_bool("use_einsum", True, "Original flag (False made the TFLite export possible); no effect here: "
                  "our attention's einsums convert to TFLite builtins either way.")
flags.DEFINE_string("export_dir", None, "As the original: after the job, write the predicting checkpoint as a "
                    "SavedModel (<export_dir>/saved_model/1, raw text in, in --serving_dtype; see "
                    "run/export_saved_model.py) and as <export_dir>/albert_model.tflite (float32, token ids in; see "
                    "run/export_litert.py).")
checkpoint_flags.define_serving_dtype_flag()
FLAGS = flags.FLAGS


def windows_to_json(features):
    return [[f.example_index, sorted(f.token_spans.items()), sorted(f.token_is_max_context.items())]
            for f in features]


def windows_from_json(rows):
    return [squad_data.SquadFeature(example_index, [], [], [], [], {int(k): tuple(v) for k, v in spans},
                         {int(k): v for k, v in best}) for example_index, spans, best in rows]


def cached_features(path_flag, default_name, json_file, tokenizer, is_training):
    """Examples, the dataset and the cache's stats of one SQuAD file. For prediction the stats
    hold each window's token → character map and max-context marks, which decoding needs;
    training needs only their count, so a training cache does not carry them."""
    examples = squad_data.read_examples(json_file, is_training, FLAGS.version_2_with_negative)
    tf.io.gfile.makedirs(FLAGS.output_dir)
    path = feature_cache.cache_path(path_flag, os.path.join(FLAGS.output_dir, default_name))
    key = {"file": os.path.abspath(json_file), "sha256": feature_cache.files_digest([json_file]),
           "spm_model_file": os.path.abspath(FLAGS.spm_model_file), "do_lower_case": FLAGS.do_lower_case,
           "max_seq_length": FLAGS.max_seq_length, "doc_stride": FLAGS.doc_stride,
           "max_query_length": FLAGS.max_query_length, "is_training": is_training,
           "question_order": "shuffled" if is_training else "file"}

    def build():
        features, stats = squad_data.build_features(examples, tokenizer, FLAGS.max_seq_length, FLAGS.doc_stride,
                                                    FLAGS.max_query_length, is_training)
        if is_training:
            features = squad_data.in_training_order(features, len(examples))
        arrays = [squad_data.feature_arrays(f, is_training) for f in features]
        if not is_training:
            stats["windows"] = windows_to_json(features)
        return arrays, stats

    dataset, stats = feature_cache.load_or_build(path, key, build,
                                                 squad_data.feature_spec(FLAGS.max_seq_length, is_training),
                                                 f"SQuAD {os.path.basename(json_file)} (questions)")
    logging.info("%s: %d questions in %d windows%s.", json_file, stats["examples"], stats["features"],
                 f", {stats['answer_outside']} of them without the answer (trained as no-answer, as the original)"
                 if is_training else "")
    return examples, dataset, stats


def predict_features(path_flag, default_name, json_file, tokenizer):
    """Examples, windows (Python side, for decoding) and the dataset of a SQuAD file to predict."""
    examples, dataset, stats = cached_features(path_flag, default_name, json_file, tokenizer, False)
    return examples, windows_from_json(stats["windows"]), dataset


def predict_answers(finetuner, examples, windows, dataset):
    outputs = finetuner.predict(dataset, finetuner.config.predict_batch_size)
    return squad_postprocess.decode(examples, windows, outputs, FLAGS.n_best_size, FLAGS.max_answer_length,
                                    FLAGS.version_2_with_negative)


def evaluable(examples):
    """Whether the predict file has the references to score against: v2.0 any answer or
    is_impossible mark; v1.1 answers for every question (its official script has no rule for
    a question without them)."""
    if FLAGS.version_2_with_negative:
        return any(example.gold_answers or example.is_impossible for example in examples)
    unanswered = sum(not example.gold_answers for example in examples)
    if 0 < unanswered < len(examples):
        logging.warning("%s: %d of %d questions have no answers; not evaluating.", FLAGS.predict_file, unanswered,
                        len(examples))
    return unanswered == 0


def null_threshold(finetuner, tokenizer):
    """--null_score_diff_threshold, or the best-F1 threshold on --null_threshold_file."""
    if not FLAGS.null_threshold_file:
        logging.info("Null threshold %.4f (--null_score_diff_threshold).", FLAGS.null_score_diff_threshold)
        return FLAGS.null_score_diff_threshold
    examples, windows, dataset = predict_features(None, "null_threshold", FLAGS.null_threshold_file, tokenizer)
    span_predictions, _, null_scores = predict_answers(finetuner, examples, windows, dataset)
    threshold = squad_metrics.tune_null_threshold(examples, span_predictions, null_scores)
    tuned = squad_metrics.evaluate(examples, squad_postprocess.apply_null_threshold(span_predictions, null_scores,
                                                                                    threshold),
                                   version_2_with_negative=True)
    logging.info("Null threshold %.4f tuned on %s (its F1 there: %.2f).", threshold, FLAGS.null_threshold_file,
                 tuned["f1"])
    return threshold


def answer(finetuner, tokenizer, examples, windows, dataset):
    """Final answers (v2: after the null threshold), nbest, null scores and, with references,
    metrics (v2: with the official oracle thresholds of the spans before the threshold)."""
    span_predictions, nbest, null_scores = predict_answers(finetuner, examples, windows, dataset)
    predictions = span_predictions
    if FLAGS.version_2_with_negative:
        threshold = null_threshold(finetuner, tokenizer)
        predictions = squad_postprocess.apply_null_threshold(span_predictions, null_scores, threshold)
    results = None
    if evaluable(examples):
        results = squad_metrics.evaluate(examples, predictions, version_2_with_negative=FLAGS.version_2_with_negative)
        if FLAGS.version_2_with_negative:
            results.update(squad_metrics.best_thresholds(examples, span_predictions, null_scores),
                           null_score_diff_threshold=threshold)
    return predictions, nbest, null_scores, results


def write_json(name, value):
    staging.write_text(os.path.join(FLAGS.output_dir, name), json.dumps(value, indent=2, ensure_ascii=False))


def export(finetuner, albert_config, tokenizer):
    """The predicting checkpoint as the original's --export_dir held it: a SavedModel and albert_model.tflite."""
    checkpoint = finetuning_flags.restore_for_inference(finetuner)

    # Each in its own dtype, whatever --mixed_precision trained in: the SavedModel in --serving_dtype,
    # the .tflite in float32 (as the original's).
    def model_in(dtype):
        model = albert_tf.AlbertQuestionAnswerer(albert_config, FLAGS.version_2_with_negative, FLAGS.start_n_top,
                                                 FLAGS.end_n_top, dtype=dtype)
        albert_tf.load_checkpoint(model, checkpoint)
        return model

    threshold = null_threshold(finetuner, tokenizer) if FLAGS.version_2_with_negative else 0.0
    config = serving.ExportConfig(task="squad", max_seq_length=FLAGS.max_seq_length, do_lower_case=FLAGS.do_lower_case,
                                  max_query_length=FLAGS.max_query_length, max_answer_length=FLAGS.max_answer_length,
                                  null_score_diff_threshold=threshold)
    saved_model = serving.export_saved_model(model_in(checkpoint_flags.serving_policy()), config, FLAGS.spm_model_file,
                                             os.path.join(FLAGS.export_dir, "saved_model"), overwrite=True)
    tflite = litert.export_litert(model_in("float32"), litert.LiteRTConfig(
        task="squad", max_seq_length=FLAGS.max_seq_length, max_answer_length=FLAGS.max_answer_length),
        os.path.join(FLAGS.export_dir, "albert_model.tflite"))
    logging.info("Exported %s to %s and %s.", checkpoint, saved_model, tflite)
    return saved_model, tflite


def main(argv):
    del argv
    finetuning_flags.check_common_flags()
    if FLAGS.predict_feature_left_file:
        logging.warning("--predict_feature_left_file is not used: the predict cache's .json note holds the windows.")
    if FLAGS.do_train and not FLAGS.train_file:
        raise app.UsageError("--do_train needs --train_file")
    if FLAGS.do_predict and not FLAGS.predict_file:
        raise app.UsageError("--do_predict needs --predict_file")
    if FLAGS.null_threshold_file and not FLAGS.version_2_with_negative:
        raise app.UsageError("--null_threshold_file is for SQuAD 2.0: add --version_2_with_negative")
    if FLAGS.null_threshold_file and FLAGS.do_predict and (
            feature_cache.files_digest([FLAGS.null_threshold_file])
            == feature_cache.files_digest([FLAGS.predict_file])):
        raise app.UsageError("--null_threshold_file holds the questions of --predict_file: a threshold tuned on the "
                             "evaluated questions overstates their scores (the original's defect). Name a held-out "
                             "file; predict_results.json reports that oracle figure as best_f1 anyway")
    albert_config, tokenizer = finetuning_flags.albert_config_and_tokenizer()
    strategy = job_flags.create_strategy()
    with job_flags.output_dir_locked(strategy):
        num_train_steps = num_warmup_steps = 1
        if FLAGS.do_train:
            _, train_dataset, train_stats = cached_features(FLAGS.train_feature_file, "train", FLAGS.train_file,
                                                            tokenizer, True)
            # The original counted questions, not windows: a long context's extra windows do not
            # lengthen training.
            num_train_steps = max(1, int(train_stats["examples"] / FLAGS.train_batch_size * FLAGS.num_train_epochs))
            num_warmup_steps = int(num_train_steps * FLAGS.warmup_proportion)
            logging.info("Training %d steps (%d questions in %d windows, %.1f epochs), %d warmup.", num_train_steps,
                         train_stats["examples"], train_stats["features"], FLAGS.num_train_epochs, num_warmup_steps)
        config = finetuning_flags.finetuning_config(num_train_steps, num_warmup_steps)
        finetuner = finetuning_flags.create_finetuner(
            strategy, lambda dtype: albert_tf.AlbertQuestionAnswerer(
                albert_config, FLAGS.version_2_with_negative, FLAGS.start_n_top, FLAGS.end_n_top, FLAGS.dropout_prob,
                dtype=dtype),
            squad_loss.per_example_loss(FLAGS.version_2_with_negative), config)
        if FLAGS.do_train:  # a checkpoint that cannot be resumed fails before flags.txt is rewritten
            finetuning_flags.restore_for_training(finetuner)
        job_flags.record_flags(strategy)

        predict = None
        if FLAGS.do_predict:
            predict = predict_features(FLAGS.predict_feature_file, "predict", FLAGS.predict_file, tokenizer)
        if FLAGS.do_train:
            evaluate = None
            if predict is not None and evaluable(predict[0]):
                def evaluate():
                    return answer(finetuner, tokenizer, *predict)[3]
            finetuner.train(train_dataset, evaluate, "f1")
        if FLAGS.do_predict:
            finetuning_flags.restore_for_inference(finetuner)
            predictions, nbest, null_scores, results = answer(finetuner, tokenizer, *predict)
            write_json("predictions.json", predictions)
            write_json("nbest_predictions.json", nbest)
            if null_scores is not None:
                write_json("null_odds.json", null_scores)
            if results:
                logging.info("%s: %s", FLAGS.predict_file, ", ".join(f"{k} = {v:.4f}" for k, v in results.items()))
                write_json("predict_results.json", results)
        exported = export(finetuner, albert_config, tokenizer) if FLAGS.export_dir else ()
        finetuning_flags.print_summary(
            "run_squad.py", ("eval_results.txt", "predictions.json", "nbest_predictions.json", "null_odds.json",
                             "predict_results.json"), results if FLAGS.do_predict else None)
        for path in exported:
            print(f"  exported {path}")


if __name__ == "__main__":
    startup.run(main)
