"""GLUE: reading every task's TSV layout, bad rows, features, and run/run_classifier.py end to end."""

import dataclasses
import json
import os
from pathlib import Path

import numpy as np
import pytest

from albert_tf import AlbertConfig, AlbertEncoder, FullTokenizer
from albert_tf.checkpoint import save_native_checkpoint
from albert_tf.finetuning import glue
from albert_tf.output_lock import OutputLock
from tests.conftest import run_script

SAMPLE_MODEL = "tfrecords/sample/botchan.model"
SST2_SAMPLE = "tfrecords/sample/glue/SST-2"

# One labeled row per task in its real GLUE train.tsv layout: (header or None, row, expected
# (text_a, text_b, label)).
LAYOUTS = {
    "cola": (None, ["gj04", "1", "", "The sailors rode the breeze."], ("The sailors rode the breeze.", None, "1")),
    "mnli": (["index", "promptID", "pairID", "genre", "sentence1_binary_parse", "sentence2_binary_parse",
              "sentence1_parse", "sentence2_parse", "sentence1", "sentence2", "label1", "gold_label"],
             ["0", "1", "1e", "gov", "(", "(", "(", "(", "He ran.", "He moved.", "entailment", "entailment"],
             ("He ran.", "He moved.", "entailment")),
    "mrpc": (["Quality", "#1 ID", "#2 ID", "#1 String", "#2 String"], ["1", "7", "8", "A cat sat.", "A cat was sitting."],
             ("A cat sat.", "A cat was sitting.", "1")),
    "qnli": (["index", "question", "sentence", "label"], ["0", "Who ran?", "Bob ran.", "entailment"],
             ("Who ran?", "Bob ran.", "entailment")),
    "qqp": (["id", "qid1", "qid2", "question1", "question2", "is_duplicate"], ["5", "1", "2", "Why?", "How?", "0"],
            ("Why?", "How?", "0")),
    "rte": (["index", "sentence1", "sentence2", "label"], ["0", "It rains.", "It is dry.", "not_entailment"],
            ("It rains.", "It is dry.", "not_entailment")),
    "sst-2": (["sentence", "label"], ["a fine film", "1"], ("a fine film", None, "1")),
    "sts-b": (["index", "genre", "filename", "year", "old_index", "source1", "source2", "sentence1", "sentence2",
               "score"], ["0", "main", "f", "2012", "1", "none", "none", "A man sings.", "A man plays.", "2.5"],
              ("A man sings.", "A man plays.", 2.5)),
    "wnli": (["index", "sentence1", "sentence2", "label"], ["0", "It fell.", "The cup fell.", "1"],
             ("It fell.", "The cup fell.", "1")),
}


MNLI_TEST_HEADER = ["index", "promptID", "pairID", "genre", "sentence1_binary_parse", "sentence2_binary_parse",
                    "sentence1_parse", "sentence2_parse", "sentence1", "sentence2"]
MNLI_TEST_ROW = ["7", "1", "1n", "gov", "(", "(", "(", "(", "He ran.", "He moved."]
# The unlabeled test files in their real GLUE layout: (file, header, row, expected (guid, text_a, text_b)).
TEST_LAYOUTS = {
    "cola": ("test.tsv", ["index", "sentence"], ["7", "Birds fly."], ("test-7", "Birds fly.", None)),
    "mnli": ("test_matched.tsv", MNLI_TEST_HEADER, MNLI_TEST_ROW, ("test-7", "He ran.", "He moved.")),
    "mismnli": ("test_mismatched.tsv", MNLI_TEST_HEADER, MNLI_TEST_ROW, ("test-7", "He ran.", "He moved.")),
    "ax": ("AX.tsv", ["index", "sentence1", "sentence2"], ["7", "It is.", "It is not."],
           ("test-7", "It is.", "It is not.")),
    "mrpc": ("test.tsv", ["index", "#1 ID", "#2 ID", "#1 String", "#2 String"], ["7", "1", "2", "A cat.", "A dog."],
             ("test-7", "A cat.", "A dog.")),
    "qnli": ("test.tsv", ["index", "question", "sentence"], ["7", "Who?", "Bob."], ("test-7", "Who?", "Bob.")),
    "qqp": ("test.tsv", ["id", "question1", "question2"], ["7", "Why?", "How?"], ("test-7", "Why?", "How?")),
    "rte": ("test.tsv", ["index", "sentence1", "sentence2"], ["7", "It rains.", "It is wet."],
            ("test-7", "It rains.", "It is wet.")),
    "sst-2": ("test.tsv", ["index", "sentence"], ["7", "a fine film"], ("test-7", "a fine film", None)),
    "sts-b": ("test.tsv", ["index", "genre", "filename", "year", "old_index", "source1", "source2", "sentence1",
                           "sentence2"], ["7", "main", "f", "2012", "1", "none", "none", "A man sings.", "A man plays."],
              ("test-7", "A man sings.", "A man plays.")),
    "wnli": ("test.tsv", ["index", "sentence1", "sentence2"], ["7", "It fell.", "The cup fell."],
             ("test-7", "It fell.", "The cup fell.")),
}
DEV_FILES = {"mnli": "dev_matched.tsv", "mismnli": "dev_mismatched.tsv", "ax": "dev_matched.tsv"}


def write_tsv(path, header, rows):
    lines = ([header] if header else []) + rows
    path.write_text("".join("\t".join(line) + "\n" for line in lines))


@pytest.mark.parametrize("task_name", sorted(LAYOUTS))
def test_each_task_reads_its_glue_layout(task_name, tmp_path):
    header, row, expected = LAYOUTS[task_name]
    task = glue.get_task(task_name)
    write_tsv(tmp_path / task.train.file, header, [row])

    (example,) = glue.read_examples(str(tmp_path), task, "train")

    assert (example.text_a, example.text_b, example.label) == expected


@pytest.mark.parametrize("task_name", sorted(TEST_LAYOUTS))
def test_each_task_reads_its_unlabeled_glue_test_file(task_name, tmp_path):
    file, header, row, expected = TEST_LAYOUTS[task_name]
    write_tsv(tmp_path / file, header, [row])

    (example,) = glue.read_examples(str(tmp_path), glue.get_task(task_name), "test")

    assert (example.guid, example.text_a, example.text_b, example.label) == (*expected, None)


@pytest.mark.parametrize("task_name", sorted(set(LAYOUTS) | {"mismnli", "ax"}))
def test_each_task_reads_its_dev_file_in_the_train_files_layout(task_name, tmp_path):
    header, row, expected = LAYOUTS[{"mismnli": "mnli", "ax": "mnli"}.get(task_name, task_name)]
    write_tsv(tmp_path / DEV_FILES.get(task_name, "dev.tsv"), header, [row])

    (example,) = glue.read_examples(str(tmp_path), glue.get_task(task_name), "dev")

    assert (example.text_a, example.text_b, example.label) == expected


def test_the_originals_layout_with_a_folder_per_task_is_read_first(tmp_path):
    # run_glue.sh passes the GLUE root: <data_dir>/MNLI/dev_matched.tsv.
    header, row, _ = LAYOUTS["mnli"]
    (tmp_path / "MNLI").mkdir()
    write_tsv(tmp_path / "MNLI" / "dev_matched.tsv", header, [row])
    write_tsv(tmp_path / "dev_matched.tsv", header, [row, row])

    examples = glue.read_examples(str(tmp_path), glue.get_task("mnli"), "dev")

    assert [example.source for example in examples] == [f"{tmp_path}/MNLI/dev_matched.tsv:2"]


def test_the_diagnostic_set_is_read_from_its_own_folder_in_the_originals_layout(tmp_path):
    file, header, row, expected = TEST_LAYOUTS["ax"]
    (tmp_path / "diagnostic").mkdir()
    write_tsv(tmp_path / "diagnostic" / "diagnostic.tsv", header, [row])

    (example,) = glue.read_examples(str(tmp_path), glue.get_task("ax"), "test")

    assert (example.guid, example.text_a, example.text_b) == expected


def test_a_missing_split_names_both_places_it_was_looked_for(tmp_path):
    with pytest.raises(FileNotFoundError, match=rf"sst-2 dev file not found: tried {tmp_path}/SST-2/dev.tsv .* and "
                                                rf"{tmp_path}/dev.tsv"):
        glue.read_examples(str(tmp_path), glue.get_task("sst-2"), "dev")


def test_run_classifier_reports_a_missing_file_before_any_work(tmp_path):
    result = run_script("run_classifier.py", "--task_name=SST-2", f"--data_dir={tmp_path}",
                        "--albert_config_file=run/configs/albert_tiny.json", f"--spm_model_file={SAMPLE_MODEL}",
                        f"--output_dir={tmp_path / 'out'}", "--do_train", "--do_eval", expect_failure=True)

    assert ("--data_dir: sst-2 train file not found: tried" in result.stderr, "Traceback" in result.stderr,
            (tmp_path / "out").exists()) == (True, False, False)


def test_a_header_without_a_needed_column_names_it(tmp_path):
    header, row, _ = LAYOUTS["rte"]
    write_tsv(tmp_path / "train.tsv", ["index", "sentence1", "sentence_2", "label"], [row])

    with pytest.raises(glue.GlueFormatError, match=r"train.tsv:1: header has no column\(s\) \['sentence2'\]"):
        glue.read_examples(str(tmp_path), glue.get_task("rte"), "train")


def test_a_cola_row_without_its_four_columns_is_reported(tmp_path):
    write_tsv(tmp_path / "train.tsv", None, [["gj04", "1", "The sailors rode the breeze."]])

    with pytest.raises(glue.GlueFormatError, match=r"train.tsv:1: expected 4 tab-separated columns, got 3"):
        glue.read_examples(str(tmp_path), glue.get_task("cola"), "train")


def test_a_row_with_a_missing_column_is_reported_with_file_and_line(tmp_path):
    header, row, _ = LAYOUTS["rte"]
    write_tsv(tmp_path / "train.tsv", header, [row, row[:3]])

    with pytest.raises(glue.GlueFormatError, match=r"train.tsv:3: expected 4 tab-separated columns, got 3"):
        glue.read_examples(str(tmp_path), glue.get_task("rte"), "train")


def test_a_byte_that_is_not_utf_8_is_reported_with_file_and_line(tmp_path):
    (tmp_path / "train.tsv").write_bytes(b"sentence\tlabel\na fine film\t1\nna\xefve\t0\n")

    with pytest.raises(glue.GlueFormatError, match=r"train\.tsv:3: byte 0xef is not UTF-8"):
        glue.read_examples(str(tmp_path), glue.get_task("sst-2"), "train")


def test_a_text_file_given_as_the_sentencepiece_model_is_one_line_naming_the_flag(tmp_path):
    vocabulary = tmp_path / "30k-clean.vocab"
    vocabulary.write_text("<pad>\t0\n<unk>\t0\n")

    result = run_script("run_classifier.py", *classifier_flags(tmp_path / "out", "--do_train"),
                        f"--spm_model_file={vocabulary}", expect_failure=True)

    assert result.stderr.strip().splitlines()[-1].startswith(f"--spm_model_file: {vocabulary} is not a SentencePiece")


def test_a_byte_order_mark_before_the_header_is_ignored(tmp_path):
    header, row, expected = LAYOUTS["mrpc"]
    write_tsv(tmp_path / "train.tsv", ["\ufeff" + header[0]] + header[1:], [row])

    (example,) = glue.read_examples(str(tmp_path), glue.get_task("mrpc"), "train")

    assert (example.text_a, example.text_b, example.label) == expected


def test_qqp_rows_with_missing_fields_are_skipped_and_counted_as_the_original(tmp_path, absl_log):
    header, row, _ = LAYOUTS["qqp"]
    write_tsv(tmp_path / "train.tsv", header, [row, row[:3], row])

    examples = glue.read_examples(str(tmp_path), glue.get_task("qqp"), "train")

    assert len(examples) == 2 and "skipped 1 row(s) with fewer than 6 columns, as the original did for qqp " \
        "(lines 3)" in absl_log.text


def test_an_sts_b_score_outside_zero_to_five_is_reported(tmp_path):
    header, row, _ = LAYOUTS["sts-b"]
    write_tsv(tmp_path / "train.tsv", header, [row[:-1] + ["7"]])

    with pytest.raises(glue.GlueFormatError, match=r"train.tsv:2: sts-b score '7' is outside \[0, 5\]"):
        glue.read_examples(str(tmp_path), glue.get_task("sts-b"), "train")


def test_a_label_outside_the_task_label_set_is_reported(tmp_path):
    header, row, _ = LAYOUTS["qnli"]
    write_tsv(tmp_path / "train.tsv", header, [row[:3] + ["entails"]])

    with pytest.raises(glue.GlueFormatError, match=r"train.tsv:2: qnli label 'entails' is not one of"):
        glue.read_examples(str(tmp_path), glue.get_task("qnli"), "train")


def test_an_unknown_task_names_the_flag_and_the_choices():
    with pytest.raises(ValueError, match=r"--task_name='squad' is not a GLUE task; expected one of \['ax', 'cola'"):
        glue.get_task("squad")


def test_truncated_examples_are_counted_and_fit_the_sequence_length():
    tokenizer = FullTokenizer(SAMPLE_MODEL)
    task = glue.get_task("rte")
    examples = [glue.GlueExample("0", "one two three four five six", "seven eight", "entailment", "x:1"),
                glue.GlueExample("1", "one", "two", "entailment", "x:2")]

    features, stats = glue.build_features(examples, task, tokenizer, max_seq_length=8)

    assert stats["truncated"] == 1 and {len(f["input_word_ids"]) for f in features} == {8}


@pytest.mark.parametrize("text_b", ["", "  \t "])
def test_a_second_text_without_tokens_is_a_single_segment_as_in_the_original(text_b):
    tokenizer = FullTokenizer(SAMPLE_MODEL)
    from albert_tf.finetuning.features import encode_text

    encoded = encode_text(tokenizer, "one two three four five six seven", text_b, max_seq_length=8)

    # [CLS] a [SEP], a cut to max_seq_length - 2 (a pair would keep one token fewer and end [SEP] [SEP])
    assert encoded == encode_text(tokenizer, "one two three four five six seven", None, max_seq_length=8)


def test_pair_truncation_shortens_the_longer_segment_first():
    tokenizer = FullTokenizer(SAMPLE_MODEL)
    from albert_tf.finetuning.features import encode_tokens

    encoded = encode_tokens(tokenizer, ["a"] * 6, ["b"] * 2, max_seq_length=9)

    assert encoded.input_type_ids == [0] * 6 + [1] * 3  # [CLS] a a a a [SEP] b b [SEP]


def test_classification_loss_is_the_softmax_cross_entropy_of_the_label():
    logits = np.array([[2.0, -1.0, 0.5], [0.1, 0.2, 0.3]], np.float32)
    labels = np.array([0, 2])

    loss = glue.per_example_loss(glue.get_task("mnli"))({"logits": logits}, {"label_ids": labels})

    log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    np.testing.assert_allclose(loss, -log_probs[np.arange(2), labels], rtol=1e-6)


def test_regression_loss_is_the_squared_error_of_the_score():
    logits = np.array([[1.5], [4.0]], np.float32)

    loss = glue.per_example_loss(glue.get_task("sts-b"))({"logits": logits}, {"label": np.array([2.0, 3.5], np.float32)})

    np.testing.assert_allclose(loss, [0.25, 0.25])


def classifier_flags(output_dir, *extra):
    return ("--task_name=SST-2", f"--data_dir={SST2_SAMPLE}", "--albert_config_file=run/configs/albert_tiny.json",
            f"--spm_model_file={SAMPLE_MODEL}", f"--output_dir={output_dir}", "--max_seq_length=64",
            "--eval_batch_size=32", "--iterations_per_loop=50", *extra)


@pytest.mark.slow
def test_fine_tuning_a_pretrained_model_learns_the_sample_task_and_writes_the_original_outputs(
        pretrained_tiny_checkpoint, tmp_path):
    run_script("run_classifier.py", *classifier_flags(
        tmp_path, f"--init_checkpoint={pretrained_tiny_checkpoint}", "--do_train", "--do_eval", "--do_predict",
        "--train_step=300", "--warmup_step=30", "--save_checkpoints_steps=100", "--learning_rate=1e-4"))

    best_step, metric, best = (tmp_path / "best_trial.txt").read_text().strip().split(":")
    submission = (tmp_path / "submit_results.tsv").read_text().splitlines()
    # The sample task is balanced: chance is 0.5.
    assert metric == "eval_accuracy" and float(best) > 0.75
    assert submission[0] == "index\tprediction" and len(submission) == 1 + 147


@pytest.fixture(scope="module")
def predicted_after_training(tmp_path_factory):
    """A short training run, then a predict-only run that also exports in bfloat16: (output_dir, its log)."""
    output = tmp_path_factory.mktemp("sst2")
    run_script("run_classifier.py", *classifier_flags(output, "--do_train", "--do_eval", "--train_step=2",
                                                      "--save_checkpoints_steps=2", "--train_batch_size=4"))
    result = run_script("run_classifier.py", *classifier_flags(
        output, "--do_predict", "--do_eval", f"--export_dir={output / 'export'}", "--threshold_to_export=0.7",
        "--serving_dtype=bfloat16"))
    return output, result.stderr


def test_eval_results_carry_the_keys_the_original_wrote_for_a_classification_task(predicted_after_training):
    output, _ = predicted_after_training

    keys = {line.split(" = ")[0] for line in (output / "eval_results.txt").read_text().splitlines()}

    assert {"eval_accuracy", "eval_loss", "loss", "global_step"} <= keys


def test_predict_only_uses_the_existing_checkpoint_and_reuses_the_feature_cache(predicted_after_training):
    output, log = predicted_after_training

    assert "Read cached sst-2 dev features" in log and "Predicting with" in log
    assert len((output / "test_results.tsv").read_text().splitlines()) == 147


def test_export_dir_writes_a_raw_text_saved_model_with_the_exported_threshold(predicted_after_training):
    import tensorflow as tf
    import tensorflow_text  # noqa: F401  (the export's tokenizer ops)

    (version,) = (predicted_after_training[0] / "export").iterdir()
    serving = tf.saved_model.load(str(version)).signatures["serving_default"]

    outputs = serving(text_a=tf.constant(["a fine film", "I did not go."]))

    assert version.name.isdigit() and outputs["threshold"].numpy().tolist() == pytest.approx([0.7, 0.7]) \
        and outputs["probabilities"].shape == (2, 2)


def test_serving_dtype_bfloat16_exports_the_predicting_checkpoint_close_to_its_float32_predictions(
        predicted_after_training):
    import tensorflow as tf
    import tensorflow_text  # noqa: F401  (the export's tokenizer ops)

    output, _ = predicted_after_training
    (version,) = (output / "export").iterdir()
    sentences = [line.split("\t")[1] for line in (Path(SST2_SAMPLE) / "test.tsv").read_text().splitlines()[1:17]]
    float32 = np.array([[float(p) for p in line.split("\t")] for line in
                        (output / "test_results.tsv").read_text().splitlines()[:16]])

    bfloat16 = tf.saved_model.load(str(version)).signatures["serving_default"](text_a=tf.constant(sentences))

    assert json.loads((version / "assets.extra" / "export_config.json").read_text())["dtype_policy"] == "mixed_bfloat16"
    # bfloat16 keeps 8 bits of mantissa: on the tiny model, probabilities move by < 1e-2.
    np.testing.assert_allclose(bfloat16["probabilities"].numpy(), float32, atol=1e-2)


@pytest.fixture(scope="module")
def trained_then_evaluated(tmp_path_factory):
    """run_glue.sh's two runs: training without evaluation (6 checkpoints, more than the default 5 to
    keep), then --nodo_train --do_eval. Returns the output_dir and the checkpoints after the first run."""
    output = tmp_path_factory.mktemp("two_runs")
    run_script("run_classifier.py", *classifier_flags(output, "--do_train", "--train_step=6",
                                                      "--save_checkpoints_steps=1", "--train_batch_size=4"))
    saved = sorted(path.name for path in output.glob("ckpt-*.index"))
    evaluated = run_script("run_classifier.py", *classifier_flags(output, "--nodo_train", "--do_eval"))
    return output, saved, evaluated.stdout


def test_a_training_run_that_does_not_evaluate_keeps_every_checkpoint(trained_then_evaluated):
    _, saved, _ = trained_then_evaluated

    assert saved == [f"ckpt-{step}.index" for step in range(1, 7)]


def test_the_evaluation_run_chooses_the_best_among_every_checkpoint_the_training_run_saved(trained_then_evaluated):
    output, _, _ = trained_then_evaluated
    lines = (output / "eval_results.txt").read_text().splitlines()
    steps = [int(line.split(" = ")[1]) for line in lines if line.startswith("global_step")]
    accuracies = [float(line.split(" = ")[1]) for line in lines if line.startswith("eval_accuracy")]

    best_step, _, best = (output / "best_trial.txt").read_text().strip().split(":")

    # the first checkpoint with the highest accuracy, among all six
    assert (steps, int(best_step), float(best)) == (
        list(range(1, 7)), steps[accuracies.index(max(accuracies))], max(accuracies))


def test_the_job_ends_with_a_summary_of_its_best_checkpoint_and_outputs(trained_then_evaluated):
    output, _, stdout = trained_then_evaluated
    step, metric, value = (output / "best_trial.txt").read_text().strip().split(":")

    assert stdout.splitlines()[-3:] == [
        f"run_classifier.py sst-2 done; outputs in {output}",
        f"  best {metric} = {float(value):.4f} at step {step}: {output}/model.ckpt-best",
        f"  wrote {output}/eval_results.txt"]


def test_a_learning_rate_below_zero_is_refused(tmp_path):
    result = run_script("run_classifier.py", *classifier_flags(tmp_path, "--do_train", "--learning_rate=-1"),
                        expect_failure=True)

    assert "--learning_rate must be a positive number, got -1.0" in result.stderr


def test_a_refused_job_does_not_record_its_flags(tmp_path):
    run_script("run_classifier.py", *classifier_flags(tmp_path, "--do_train", "--learning_rate=-1"), expect_failure=True)

    assert not (tmp_path / "flags.txt").exists()


def test_a_second_job_on_a_locked_output_dir_fails_naming_the_holder(tmp_path):
    with OutputLock(str(tmp_path), "the first job"):
        result = run_script("run_classifier.py", *classifier_flags(tmp_path, "--do_train"), expect_failure=True)

    assert f"--output_dir: {tmp_path} is in use by another job: pid {os.getpid()}" in result.stderr


def test_a_max_seq_length_past_the_position_embeddings_is_one_line_before_any_work(tmp_path):
    result = run_script("run_classifier.py", *classifier_flags(tmp_path, "--do_train", "--max_seq_length=1000"),
                        expect_failure=True)

    assert "--max_seq_length=1000 exceeds the model's max_position_embeddings=128" in result.stderr \
        and "Traceback" not in result.stderr and not list(tmp_path.iterdir())


def test_an_init_checkpoint_of_another_model_is_one_line_before_any_feature_is_built(tmp_path):
    config = AlbertConfig.from_json_file("run/configs/albert_tiny.json")
    other = save_native_checkpoint(AlbertEncoder(dataclasses.replace(config, hidden_size=32)),
                                   str(tmp_path / "other" / "ckpt"))
    output_dir = tmp_path / "out"

    result = run_script("run_classifier.py", *classifier_flags(output_dir, "--do_train", f"--init_checkpoint={other}"),
                        expect_failure=True)

    assert result.stderr.strip().splitlines()[-1].startswith("--init_checkpoint: ") \
        and "Traceback" not in result.stderr and not list(output_dir.glob("*.tf_record*"))


def test_keep_checkpoint_max_below_zero_is_refused(tmp_path):
    result = run_script("run_classifier.py", *classifier_flags(tmp_path, "--do_train", "--keep_checkpoint_max=-1"),
                        expect_failure=True)

    assert "--keep_checkpoint_max must be >= 0 (0 keeps all), got -1" in result.stderr


def test_predict_without_any_checkpoint_fails_at_once_with_advice(tmp_path):
    result = run_script("run_classifier.py", *classifier_flags(tmp_path, "--do_predict"), expect_failure=True)

    assert "has no checkpoint and no --init_checkpoint was given" in result.stderr


def test_regression_task_writes_scores(tmp_path):
    header, row, _ = LAYOUTS["sts-b"]
    data = tmp_path / "data"
    data.mkdir()
    for split in ("train", "dev"):
        write_tsv(data / f"{split}.tsv", header, [row[:-1] + [str(i % 5)] for i in range(8)])
    write_tsv(data / "test.tsv", ["index", "sentence1", "sentence2"], [["0", "A.", "B."], ["1", "C.", "D."]])

    run_script("run_classifier.py", "--task_name=STS-B", f"--data_dir={data}",
               "--albert_config_file=run/configs/albert_tiny.json", f"--spm_model_file={SAMPLE_MODEL}",
               f"--output_dir={tmp_path / 'out'}", "--max_seq_length=16", "--do_train", "--do_eval", "--do_predict",
               "--train_step=2", "--save_checkpoints_steps=2", "--train_batch_size=4", "--eval_batch_size=4")

    keys = {line.split(" = ")[0] for line in (tmp_path / "out" / "eval_results.txt").read_text().splitlines()}
    rows = [line.split("\t") for line in (tmp_path / "out" / "submit_results.tsv").read_text().splitlines()[1:]]
    # Every key the original wrote for STS-B (its Estimator added loss and global_step), and Spearman.
    assert {"pearson", "MSE", "eval_loss", "loss", "global_step", "spearman"} <= keys
    assert [index for index, _ in rows] == ["0", "1"] and all(np.isfinite(float(score)) for _, score in rows)


def store_tfds_glue(data_dir, config, features, splits):
    """A GLUE dataset prepared the way TensorFlow Datasets stores it, without any download."""
    import tensorflow_datasets as tfds

    tfds.dataset_builders.store_as_tfds_dataset(
        name="glue", config=config, version="2.0.0", data_dir=str(data_dir),
        features=tfds.features.FeaturesDict(features),
        split_datasets={split: list(enumerate(rows)) for split, rows in splits.items()})


def test_tfds_mnli_labels_map_by_name_and_unlabeled_test_rows_have_none(tmp_path):
    import tensorflow_datasets as tfds

    # TFDS orders MNLI's labels differently from the GLUE TSVs.
    names = ["entailment", "neutral", "contradiction"]
    row = {"premise": "He ran.", "hypothesis": "He sat.", "idx": np.int32(0)}
    store_tfds_glue(tmp_path, "mnli", {"premise": tfds.features.Text(), "hypothesis": tfds.features.Text(),
                                       "label": tfds.features.ClassLabel(names=names), "idx": np.int32},
                    {"validation_matched": [{**row, "label": 2}], "test_matched": [{**row, "label": -1}]})
    task = glue.get_task("mnli")

    dev, test = (glue.read_tfds_examples("glue/mnli", str(tmp_path), task, split)[0] for split in ("dev", "test"))

    assert (dev.text_a, dev.text_b, dev.label, test.label) == ("He ran.", "He sat.", "contradiction", None)


def test_a_tfds_dataset_that_is_not_prepared_names_both_flags(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"--tfds_name=glue/rte: no prepared dataset under --tfds_data_dir="):
        glue.read_tfds_examples("glue/rte", str(tmp_path), glue.get_task("rte"), "train")


def test_run_classifier_reads_a_local_tfds_dataset(tmp_path):
    import tensorflow_datasets as tfds

    rows = [{"sentence": f"sentence number {i}", "label": i % 2, "idx": np.int32(i)} for i in range(8)]
    store_tfds_glue(tmp_path / "tfds", "sst2", {"sentence": tfds.features.Text(), "idx": np.int32,
                                                "label": tfds.features.ClassLabel(names=["negative", "positive"])},
                    {"train": rows, "validation": rows, "test": [{**r, "label": -1} for r in rows[:3]]})

    run_script("run_classifier.py", "--task_name=SST-2", "--tfds_name=glue/sst2", f"--tfds_data_dir={tmp_path / 'tfds'}",
               "--albert_config_file=run/configs/albert_tiny.json", f"--spm_model_file={SAMPLE_MODEL}",
               f"--output_dir={tmp_path / 'out'}", "--max_seq_length=16", "--do_train", "--do_eval", "--do_predict",
               "--train_step=2", "--save_checkpoints_steps=2", "--train_batch_size=4", "--eval_batch_size=4")

    rows = [line.split("\t") for line in (tmp_path / "out" / "submit_results.tsv").read_text().splitlines()[1:]]
    # TFDS stores rows in its own order; the GLUE index travels with each row.
    assert sorted(index for index, _ in rows) == ["0", "1", "2"] and {label for _, label in rows} <= {"0", "1"}


@pytest.mark.slow
def test_mirrored_fine_tuning_matches_one_device(tmp_path):
    def eval_loss(strategy):
        output_dir = tmp_path / strategy
        run_script("run_classifier.py", *classifier_flags(
            output_dir, f"--strategy={strategy}", "--num_logical_cpus=2", "--classifier_dropout=0", "--do_train",
            "--do_eval", "--train_step=3", "--save_checkpoints_steps=3", "--train_batch_size=8",
            "--learning_rate=1e-3", "--cached_dir=" + str(tmp_path / "cache")))
        line = next(l for l in (output_dir / "eval_results.txt").read_text().splitlines() if l.startswith("eval_loss"))
        return float(line.split("=")[1])

    # The loss divides by the global batch size on every replica, so 2 replicas take the same
    # steps as one device up to float32 summation order.
    assert eval_loss("mirrored") == pytest.approx(eval_loss("one_device"), abs=1e-5)
