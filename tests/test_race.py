"""RACE: the released JSON layout, bad files, features, and run/run_race.py end to end."""

import json

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

    with pytest.raises(FileNotFoundError, match=r"train/high \(expected --data_dir/train/high/\*.txt\)"):
        race.read_examples(str(tmp_path), "train")


def test_each_option_is_its_own_sequence_with_the_question_last():
    tokenizer = FullTokenizer(SAMPLE_MODEL)
    example = race.RaceExample("x", "middle", "a long article " * 20, "Why?", ("yes", "no", "maybe", "never"), 0)

    features, stats = race.build_features([example], tokenizer, max_seq_length=24, max_qa_length=8)

    ids = features[0]["input_word_ids"]
    assert ids.shape == (4, 24) and stats["truncated"] == 1
    assert [tokenizer.convert_ids_to_tokens(row)[-2] for row in ids] == [
        tokenizer.tokenize(option)[-1] for option in example.options]


def test_run_race_trains_evaluates_and_scores_the_test_set(tmp_path):
    run_script("run_race.py", "--data_dir=tfrecords/sample/RACE", "--albert_config_file=run/configs/albert_tiny.json",
               f"--spm_model_file={SAMPLE_MODEL}", f"--output_dir={tmp_path}", "--max_seq_length=64",
               "--max_qa_length=16", "--train_step=4", "--warmup_step=1", "--save_checkpoints_steps=2",
               "--train_batch_size=4", "--eval_batch_size=8", "--do_predict")

    evaluated_steps = [line for line in (tmp_path / "eval_results.txt").read_text().splitlines()
                       if line.startswith("global_step")]
    predicted = (tmp_path / "predict_results.txt").read_text()
    assert evaluated_steps == ["global_step = 2", "global_step = 4"]
    assert "eval_accuracy = " in predicted and "middle_accuracy = " in predicted and "high_accuracy = " in predicted
