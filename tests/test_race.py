"""RACE: the released JSON layout, bad files, features, and run/run_race.py end to end."""

import json

import numpy as np
import pytest

from albert_tf import FullTokenizer
from albert_tf.finetuning import race
from tests.conftest import run_script

SAMPLE_MODEL = "tfrecords/sample/botchan.model"


def write_race(data_dir, split="train", level="middle", name="1.txt", **overrides):
    record = {"id": name, "article": "Tom has a red bike. He rides it to school.",
              "questions": ["What color is the bike?", "Tom rides his bike to _ ."],
              "options": [["red", "blue", "green", "black"], ["school", "the sea", "town", "bed"]],
              "answers": ["A", "A"], **overrides}
    directory = data_dir / split / level
    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).write_text(json.dumps(record))


def test_every_question_of_a_passage_becomes_an_example_with_its_answer_index(tmp_path):
    write_race(tmp_path, answers=["C", "B"])

    examples = race.read_examples(str(tmp_path), "train", levels=("middle",))

    assert [(e.guid, e.question, e.label) for e in examples] == [
        ("train/middle/1.txt#0", "What color is the bike?", 2), ("train/middle/1.txt#1", "Tom rides his bike to _ .", 1)]


def test_an_option_fills_the_blank_of_a_cloze_question():
    assert race.question_with_option("Tom rides to _ .", "school") == "Tom rides to school ."


@pytest.mark.parametrize("overrides, message", [
    ({"answers": ["A", "E"]}, r"1.txt: question 1 has answer 'E'; expected one of A, B, C, D"),
    ({"options": [["a", "b", "c", "d"], ["a", "b", "c"]]}, r"1.txt: question 1 has 3 options; expected 4"),
    ({"answers": ["A"]}, r"1.txt: 2 questions, 2 option lists and 1 answers"),
])
def test_malformed_passages_are_reported_with_the_file(tmp_path, overrides, message):
    write_race(tmp_path, **overrides)

    with pytest.raises(race.RaceFormatError, match=message):
        race.read_examples(str(tmp_path), "train", levels=("middle",))


def test_a_missing_level_directory_names_the_expected_layout(tmp_path):
    write_race(tmp_path, level="middle")

    with pytest.raises(FileNotFoundError, match=rf"no RACE files for train/high: looked for \*.txt in "
                                                rf"{tmp_path}/RACE/train/high \(the original's layout\) and "
                                                rf"{tmp_path}/train/high"):
        race.read_examples(str(tmp_path), "train")


def test_the_originals_all_txt_with_a_passage_per_line_is_read(tmp_path):
    directory = tmp_path / "RACE" / "dev" / "high"
    directory.mkdir(parents=True)
    passages = [{"article": f"Passage {i}.", "questions": ["Which?"], "options": [["a", "b", "c", "d"]],
                 "answers": ["ABCD"[i]]} for i in range(3)]
    (directory / "all.txt").write_text("".join(json.dumps(p) + "\n" for p in passages))

    examples = race.read_examples(str(tmp_path), "dev", levels=("high",))

    assert [(e.guid, e.article, e.label) for e in examples] == [
        (f"dev/high/all.txt:{i + 1}#0", f"Passage {i}.", i) for i in range(3)]


def test_a_bad_line_of_all_txt_is_named(tmp_path):
    directory = tmp_path / "RACE" / "dev" / "high"
    directory.mkdir(parents=True)
    (directory / "all.txt").write_text('{"article": "x"}\n{not json\n')

    with pytest.raises(race.RaceFormatError, match=r"all.txt:2: not valid JSON"):
        race.read_examples(str(tmp_path), "dev", levels=("high",))


def test_truncation_keeps_the_question_and_option_whole_and_cuts_the_article():
    # max_seq_length=256, max_qa_length=128, a 300-token article and a 130-token question+option: the
    # original keeps the last 128 question+option tokens and 256 - 3 - 128 = 125 article tokens.
    tokenizer = FullTokenizer(SAMPLE_MODEL)
    assert tokenizer.tokenize("the " * 3) == ["\u2581the"] * 3  # one token a word
    example = race.RaceExample("x", "high", "the " * 300, "and " * 129, ("and",) * 4, 0)

    features, stats = race.build_features([example], tokenizer, max_seq_length=256, max_qa_length=128)

    tokens = tokenizer.convert_ids_to_tokens(features[0]["input_word_ids"][0])
    assert (tokens.count("\u2581the"), tokens.count("\u2581and"), len(tokens), stats["truncated"]) == (125, 128, 256, 1)


def test_each_option_is_its_own_sequence_with_the_question_last():
    tokenizer = FullTokenizer(SAMPLE_MODEL)
    example = race.RaceExample("x", "middle", "a long article " * 20, "Why?", ("yes", "no", "maybe", "never"), 0)

    features, stats = race.build_features([example], tokenizer, max_seq_length=24, max_qa_length=8)

    ids = features[0]["input_word_ids"]
    assert ids.shape == (4, 24) and stats["truncated"] == 1
    assert [tokenizer.convert_ids_to_tokens(row)[-2] for row in ids] == [
        tokenizer.tokenize(option)[-1] for option in example.options]


def test_the_loss_is_the_softmax_cross_entropy_over_the_four_options():
    logits = np.array([[1.0, 2.0, 0.0, -1.0], [0.3, 0.3, 0.3, 0.3]], np.float32)
    labels = np.array([1, 3])

    loss = race.per_example_loss({"logits": logits}, {"label_ids": labels})

    log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    np.testing.assert_allclose(loss, -log_probs[np.arange(2), labels], rtol=1e-6)


@pytest.fixture(scope="module")
def race_run(tmp_path_factory):
    output = tmp_path_factory.mktemp("race")
    run_script("run_race.py", "--data_dir=tfrecords/sample/RACE", "--albert_config_file=run/configs/albert_tiny.json",
               f"--spm_model_file={SAMPLE_MODEL}", f"--output_dir={output}", "--max_seq_length=64",
               "--max_qa_length=16", "--train_step=4", "--warmup_step=1", "--save_checkpoints_steps=2",
               "--train_batch_size=4", "--eval_batch_size=8", "--do_train", "--do_eval", "--do_predict",
               "--keep_checkpoint_max=1", "--num_keep_checkpoint=2",
               f"--train_file={output / 'race_train.tf_record'}")
    return output


def test_run_race_evaluates_every_checkpoint(race_run):
    evaluated_steps = [line for line in (race_run / "eval_results.txt").read_text().splitlines()
                       if line.startswith("global_step")]

    assert evaluated_steps == ["global_step = 2", "global_step = 4"]


def test_the_original_num_keep_checkpoint_flag_sets_how_many_checkpoints_are_kept(race_run):
    assert sorted(path.name for path in race_run.glob("ckpt-*.index")) == ["ckpt-2.index", "ckpt-4.index"]


def test_run_race_scores_the_test_set_overall_and_per_level(race_run):
    predicted = dict(line.split(" = ") for line in (race_run / "predict_results.txt").read_text().splitlines())

    assert {"eval_accuracy", "middle_accuracy", "high_accuracy"} <= predicted.keys()


def test_run_race_writes_one_chosen_option_per_test_question(race_run):
    rows = [line.split("\t") for line in (race_run / "test_predictions.tsv").read_text().splitlines()]
    questions = race.read_examples("tfrecords/sample/RACE", "test")

    assert rows[0] == ["id", "prediction"] and [guid for guid, _ in rows[1:]] == [e.guid for e in questions] \
        and {choice for _, choice in rows[1:]} <= set("ABCD")


def test_predict_alone_only_predicts_as_in_the_other_scripts(tmp_path):
    result = run_script("run_race.py", "--data_dir=tfrecords/sample/RACE", "--albert_config_file=run/configs/albert_tiny.json",
                        f"--spm_model_file={SAMPLE_MODEL}", f"--output_dir={tmp_path}", "--max_seq_length=64",
                        "--do_predict", expect_failure=True)

    assert "nothing to predict with" in result.stderr and not list(tmp_path.glob("ckpt-*"))


def test_an_original_cache_file_name_is_the_cache_file_not_a_prefix(race_run):
    assert (race_run / "race_train.tf_record").exists() and not (race_run / "race_train.tf_record.tf_record").exists()
