"""SQuAD: the official metric rules, reading, character alignment, windows, decoding, losses, and
run/run_squad.py end to end."""

import json

import numpy as np
import pytest
import tensorflow as tf

from albert_tf import FullTokenizer
from albert_tf.finetuning import squad_data, squad_metrics, squad_postprocess
from tests.conftest import run_script

SAMPLE_MODEL = "tfrecords/sample/botchan.model"
CONTEXT = "Tom has a red bike. He rides it to school every day."


def squad_file(path, qas, context=CONTEXT):
    path.write_text(json.dumps({"version": "2.0", "data": [{"title": "t", "paragraphs": [
        {"context": context, "qas": qas}]}]}))
    return str(path)


def example(qas_id, gold):
    return squad_data.SquadExample(qas_id, "q", "c", "", -1, not gold, tuple(gold))


# --- metrics ---------------------------------------------------------------------------------

def test_normalization_drops_case_punctuation_articles_and_extra_space():
    assert squad_metrics.normalize_answer("  The  Red, bike!  An apple ") == "red bike apple"


def test_f1_counts_overlapping_tokens_after_normalization():
    # prediction "red bike today" vs gold "the red bike": 2 common, precision 2/3, recall 1.
    assert squad_metrics.f1_score("red bike today", "the red bike") == pytest.approx(0.8)


def test_scores_take_the_best_gold_answer_and_empty_matches_no_answer():
    examples = [example("a", ["red bike", "a bike"]), example("b", []), example("c", ["red car"])]

    results = squad_metrics.evaluate(examples, {"a": "bike", "b": "", "c": "blue car"})

    # a: "a bike" normalizes to "bike": EM 1, F1 1; b: no answer predicted for none: 1, 1;
    # c: EM 0, F1 0.5.
    assert (results["exact"], results["f1"]) == (pytest.approx(200 / 3), pytest.approx(250 / 3))


def test_best_threshold_follows_the_official_search():
    examples = [example("a", ["x"]), example("b", []), example("c", ["y"])]
    predictions = {"a": "x", "b": "z", "c": "w"}
    exact = {"a": 1.0, "b": 0.0, "c": 0.0}
    null_scores = {"a": 0.1, "b": 0.5, "c": 0.3}

    # Start 1 (b's no-answer); a (+1) → 2 at 0.1; c (+0) → 2; b (−1) → 1. Best 2 of 3 at 0.1.
    assert squad_metrics.find_best_threshold(examples, predictions, exact, null_scores) == (pytest.approx(200 / 3), 0.1)


# --- reading ---------------------------------------------------------------------------------

def test_an_answer_not_found_at_its_start_names_the_question(tmp_path):
    path = squad_file(tmp_path / "train.json", [{"id": "q1", "question": "What?",
                                                 "answers": [{"text": "bike", "answer_start": 3}]}])

    with pytest.raises(squad_data.SquadFormatError, match=r"question 'q1': answer 'bike' is not at answer_start=3"):
        squad_data.read_examples(path, is_training=True, version_2_with_negative=False)


def test_a_training_question_without_answers_must_be_marked_impossible(tmp_path):
    path = squad_file(tmp_path / "train.json", [{"id": "q2", "question": "Who?", "answers": []}])

    with pytest.raises(squad_data.SquadFormatError, match=r"'q2' has no answers and is not marked is_impossible"):
        squad_data.read_examples(path, is_training=True, version_2_with_negative=True)


def test_unanswerable_questions_need_the_v2_flag(tmp_path):
    path = squad_file(tmp_path / "train.json", [{"id": "q3", "question": "Who?", "answers": [], "is_impossible": True}])

    with pytest.raises(squad_data.SquadFormatError, match=r"pass --version_2_with_negative"):
        squad_data.read_examples(path, is_training=True, version_2_with_negative=False)


# --- alignment and windows -------------------------------------------------------------------

def test_every_token_maps_back_to_its_original_characters_through_preprocessing():
    tokenizer = FullTokenizer(SAMPLE_MODEL)
    text = "  Café owner  BOB paid £3,000.50 for a naïve Über-car!"

    pieces, spans = squad_data.tokenize_with_char_spans(tokenizer, text)

    recovered = "".join(text[start:end] for start, end in spans)
    assert pieces == tokenizer.tokenize(text) and recovered == "".join(text.split())


def features_for(max_seq_length=18, doc_stride=4, is_training=True):
    tokenizer = FullTokenizer(SAMPLE_MODEL)
    examples = [squad_data.SquadExample("q", "Where does he ride?", CONTEXT, "school", CONTEXT.index("school"),
                                        False, ("school",))]
    features, _ = squad_data.build_features(examples, tokenizer, max_seq_length, doc_stride, 8, is_training)
    return tokenizer, examples, features


def test_windows_cover_the_context_and_mark_the_answer_or_cls():
    tokenizer, examples, features = features_for()

    labels = []
    for feature in features:
        if feature.is_impossible:
            labels.append("[CLS]" if feature.start_position == feature.end_position == 0 else "bad")
        else:
            start, end = feature.token_spans[feature.start_position][0], feature.token_spans[feature.end_position][1]
            labels.append(CONTEXT[start:end])
    covered = sorted({span for feature in features for span in feature.token_spans.values()})
    assert len(features) > 1 and set(labels) == {"school", "[CLS]"}
    assert covered == sorted(set(squad_data.tokenize_with_char_spans(tokenizer, CONTEXT)[1]))


def test_p_mask_leaves_only_cls_and_the_context_selectable():
    _, _, features = features_for()
    feature = features[0]

    selectable = [i for i, masked in enumerate(feature.p_mask) if not masked]

    assert selectable == [0] + sorted(feature.token_spans)


def test_each_context_token_is_max_context_in_exactly_one_window():
    tokenizer, _, features = features_for()
    spans = squad_data.tokenize_with_char_spans(tokenizer, CONTEXT)[1]

    owners = {span: sum(f.token_is_max_context[p] for f in features for p, s in f.token_spans.items() if s == span)
              for span in set(spans)}

    assert set(owners.values()) == {1}


# --- decoding and losses ---------------------------------------------------------------------

def test_v1_decoding_returns_the_original_text_of_the_best_valid_span():
    _, examples, features = features_for(max_seq_length=64, is_training=False)
    feature = features[0]
    positions = sorted(feature.token_spans)
    start = next(p for p in positions if CONTEXT[feature.token_spans[p][0]:].startswith("school"))
    start_logits, end_logits = np.zeros((1, 64)), np.zeros((1, 64))
    start_logits[0, start], end_logits[0, start + 2] = 5.0, 5.0  # "school every" ... 3 tokens
    start_logits[0, 3], end_logits[0, 3] = 9.0, 9.0  # inside the question: never valid

    predictions, nbest, _ = squad_postprocess.decode(examples, features, {"start_logits": start_logits,
                                                                          "end_logits": end_logits})

    end = feature.token_spans[start + 2][1]
    assert predictions["q"] == CONTEXT[feature.token_spans[start][0]:end] and nbest["q"][0]["score"] == 10.0


def test_null_threshold_blanks_questions_whose_null_score_reaches_it():
    answers = squad_postprocess.apply_null_threshold({"a": "x", "b": "y"}, {"a": 0.5, "b": -0.5}, threshold=0.0)

    assert answers == {"a": "", "b": "y"}


def test_v2_loss_matches_the_original_formula():
    rng = np.random.default_rng(0)
    start_log_probs = tf.nn.log_softmax(rng.normal(size=(2, 5)).astype(np.float32)).numpy()
    end_log_probs = tf.nn.log_softmax(rng.normal(size=(2, 5)).astype(np.float32)).numpy()
    cls_logits = np.array([0.3, -1.2], np.float32)
    batch = {"start_positions": np.array([1, 0]), "end_positions": np.array([3, 0]), "is_impossible": np.array([0, 1])}

    loss = squad_postprocess.per_example_loss(True)(
        {"start_log_probs": start_log_probs, "end_log_probs": end_log_probs, "cls_logits": cls_logits}, batch)

    sigmoid_ce = np.log1p(np.exp(-np.abs(cls_logits))) + np.maximum(cls_logits, 0) - cls_logits * batch["is_impossible"]
    expected = -(start_log_probs[[0, 1], [1, 0]] + end_log_probs[[0, 1], [3, 0]]) / 2 + 0.5 * sigmoid_ce
    np.testing.assert_allclose(loss, expected, rtol=1e-6)


# --- end to end ------------------------------------------------------------------------------

def small_squad(tmp_path, version):
    data = json.load(open(f"tfrecords/sample/SQuAD/train-v{version}.json"))
    data["data"] = data["data"][:6]
    path = tmp_path / f"small-v{version}.json"
    path.write_text(json.dumps(data))
    return str(path)


def squad_flags(tmp_path, train_file, predict_file, *extra):
    return (f"--train_file={train_file}", f"--predict_file={predict_file}",
            "--albert_config_file=run/configs/albert_tiny.json", f"--spm_model_file={SAMPLE_MODEL}",
            f"--output_dir={tmp_path / 'out'}", "--max_seq_length=128", "--doc_stride=64", "--max_query_length=24",
            "--train_batch_size=8", "--predict_batch_size=8", "--iterations_per_loop=50", *extra)


@pytest.mark.parametrize("version", ["1.1", "2.0"])
def test_run_squad_learns_its_training_questions_and_writes_the_original_outputs(version, tmp_path):
    small = small_squad(tmp_path, version)
    v2 = ("--version_2_with_negative", "--dropout_prob=0") if version == "2.0" else ()

    run_script("run_squad.py", *squad_flags(tmp_path, small, small, "--do_train", "--do_predict",
                                            "--num_train_epochs=60", "--learning_rate=1e-3",
                                            "--save_checkpoints_steps=1000", *v2))

    results = json.loads((tmp_path / "out" / "predict_results.json").read_text())
    written = sorted(p.name for p in (tmp_path / "out").glob("*.json") if "predict" in p.name or "null" in p.name)
    # Fitting 12–18 questions it trained on shows windows, positions and decoding agree.
    assert results["f1"] > 75
    assert written == sorted(["nbest_predictions.json", "predictions.json", "predict.json", "predict_results.json"]
                             + (["null_odds.json"] if v2 else []))


def test_predict_only_needs_no_train_file_and_tunes_the_threshold_on_the_held_out_file(tmp_path):
    small = small_squad(tmp_path, "2.0")
    run_script("run_squad.py", *squad_flags(tmp_path, small, small, "--version_2_with_negative", "--do_train",
                                            "--num_train_epochs=1"))

    result = run_script("run_squad.py", *squad_flags(
        tmp_path, "", "tfrecords/sample/SQuAD/dev-v2.0.json", "--version_2_with_negative", "--do_predict",
        "--null_threshold_file=tfrecords/sample/SQuAD/heldout-v2.0.json"))

    assert "tuned on tfrecords/sample/SQuAD/heldout-v2.0.json" in result.stderr
    assert len(json.loads((tmp_path / "out" / "predictions.json").read_text())) == 90


def test_the_tuned_threshold_reproduces_the_best_f1_when_applied():
    examples = [example("a", ["x"]), example("b", []), example("c", ["y"]), example("d", [])]
    predictions = {"a": "x", "b": "z", "c": "w", "d": "v"}
    null_scores = {"a": 0.1, "b": 0.5, "c": 0.3, "d": -0.2}

    threshold = squad_metrics.tune_null_threshold(examples, predictions, null_scores)

    applied = squad_postprocess.apply_null_threshold(predictions, null_scores, threshold)
    best_f1, _ = squad_metrics.find_best_threshold(examples, predictions, squad_metrics.raw_scores(
        examples, predictions)[1], null_scores)
    assert squad_metrics.evaluate(examples, applied)["f1"] == pytest.approx(best_f1)
