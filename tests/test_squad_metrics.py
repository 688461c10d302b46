"""SQuAD EM/F1 and the v2.0 threshold search, against values computed by hand from the rules of
the official v1.1 and v2.0 evaluation scripts."""

import math

import pytest

from albert_tf.finetuning import squad_metrics, squad_postprocess
from tests.squad_fixtures import example


def test_normalization_drops_case_punctuation_articles_and_extra_space():
    assert squad_metrics.normalize_answer("  The  Red, bike!  An apple ") == "red bike apple"


def test_normalization_removes_punctuation_before_articles_and_only_whole_word_articles():
    # "the-end" loses its hyphen first and becomes one word, which is no article; "(the)" loses its
    # parentheses and is one; "Theater" and "anthem" only contain articles.
    assert squad_metrics.normalize_answer("The-end of (the) Theater anthem") == "theend of theater anthem"


def test_f1_counts_overlapping_tokens_after_normalization():
    # prediction "red bike today" vs gold "the red bike": 2 common, precision 2/3, recall 1.
    assert squad_metrics.f1_score("red bike today", "the red bike", version_2_with_negative=False) == \
        pytest.approx(0.8)


def test_f1_counts_a_repeated_token_only_as_often_as_both_have_it():
    # "bike bike bike" vs "bike": 1 common, precision 1/3, recall 1 → 0.5.
    assert squad_metrics.f1_score("bike bike bike", "bike", version_2_with_negative=True) == pytest.approx(0.5)


def test_scores_take_the_best_gold_answer_and_empty_matches_no_answer():
    examples = [example("a", ["red bike", "a bike"]), example("b", []), example("c", ["red car"])]

    results = squad_metrics.evaluate(examples, {"a": "bike", "b": "", "c": "blue car"}, version_2_with_negative=True)

    # a: "a bike" normalizes to "bike": EM 1, F1 1; b: no answer predicted for none: 1, 1;
    # c: EM 0, F1 0.5.
    assert (results["exact"], results["f1"]) == (pytest.approx(200 / 3), pytest.approx(250 / 3))


def test_v1_keeps_a_reference_that_normalizes_to_nothing_and_gives_it_no_f1():
    # Gold "The" and prediction "an" both normalize to "": exact match, but v1.1's F1 needs a
    # common token.
    results = squad_metrics.evaluate([example("q", ["The"])], {"q": "an"}, version_2_with_negative=False)

    assert (results["exact_match"], results["f1"]) == (100.0, 0.0)


def test_v2_reads_a_reference_that_normalizes_to_nothing_as_no_answer():
    results = squad_metrics.evaluate([example("q", ["The"])], {"q": "an"}, version_2_with_negative=True)

    assert (results["exact"], results["f1"]) == (100.0, 100.0)


def test_v1_refuses_to_score_a_question_without_references():
    with pytest.raises(ValueError, match=r"question 'q' has no reference answers"):
        squad_metrics.evaluate([example("q", [])], {"q": ""}, version_2_with_negative=False)


def test_v2_reports_answerable_and_unanswerable_questions_apart():
    examples = [example("a", ["red bike"]), example("b", []), example("c", ["red car"]), example("d", [])]
    predictions = {"a": "red bike", "b": "x", "c": "car", "d": ""}

    results = squad_metrics.evaluate(examples, predictions, version_2_with_negative=True)

    # HasAns: a (1, 1) and c (0, 2·1·0.5/1.5 = 2/3); NoAns: b (0, 0) and d (1, 1).
    assert {k: v for k, v in results.items() if k.startswith(("HasAns", "NoAns"))} == {
        "HasAns_exact": 50.0, "HasAns_f1": pytest.approx(250 / 3), "HasAns_total": 2,
        "NoAns_exact": 50.0, "NoAns_f1": 50.0, "NoAns_total": 2}


def test_v2_reports_only_the_groups_that_have_questions():
    results = squad_metrics.evaluate([example("a", ["x"])], {"a": "x"}, version_2_with_negative=True)

    assert sorted(k for k in results if "_" in k) == ["HasAns_exact", "HasAns_f1", "HasAns_total"]


def test_v1_reports_the_official_v1_keys_and_no_answerability_groups():
    results = squad_metrics.evaluate([example("a", ["x"])], {"a": "x"}, version_2_with_negative=False)

    assert sorted(results) == ["exact_match", "f1", "total"]


def test_best_threshold_follows_the_official_search():
    examples = [example("a", ["x"]), example("b", []), example("c", ["y"])]
    predictions = {"a": "x", "b": "z", "c": "w"}
    exact = {"a": 1.0, "b": 0.0, "c": 0.0}
    null_scores = {"a": 0.1, "b": 0.5, "c": 0.3}

    # Start 1 (b's no-answer); a (+1) → 2 at 0.1; c (+0) → 2; b (−1) → 1. Best 2 of 3 at 0.1.
    assert squad_metrics.find_best_threshold(examples, predictions, exact, null_scores) == (pytest.approx(200 / 3), 0.1)


def test_best_threshold_stays_at_the_official_default_when_no_answer_everywhere_is_best():
    examples = [example("a", ["x"]), example("b", [])]

    best = squad_metrics.find_best_threshold(examples, {"a": "wrong", "b": "z"}, {"a": 0.0, "b": 0.0},
                                             {"a": -3.0, "b": 2.0})

    assert best == (50.0, 0.0)


def test_oracle_thresholds_search_the_spans_before_any_threshold():
    # Every span is right, so answering all but the unanswerable b is perfect: the oracle is 100
    # whatever threshold the final answers were given.
    examples = [example("a", ["x"]), example("b", []), example("c", ["y"])]
    spans = {"a": "x", "b": "z", "c": "y"}
    null_scores = {"a": -2.0, "b": 1.0, "c": -1.0}

    results = squad_metrics.best_thresholds(examples, spans, null_scores)

    assert results == {"best_exact": 100.0, "best_exact_thresh": -1.0, "best_f1": 100.0, "best_f1_thresh": -1.0}


def test_the_tuned_threshold_reproduces_the_best_f1_when_applied():
    examples = [example("a", ["x"]), example("b", []), example("c", ["y"]), example("d", [])]
    predictions = {"a": "x", "b": "z", "c": "w", "d": "v"}
    null_scores = {"a": 0.1, "b": 0.5, "c": 0.3, "d": -0.2}

    threshold = squad_metrics.tune_null_threshold(examples, predictions, null_scores)

    applied = squad_postprocess.apply_null_threshold(predictions, null_scores, threshold)
    best_f1 = squad_metrics.best_thresholds(examples, predictions, null_scores)["best_f1"]
    assert squad_metrics.evaluate(examples, applied, version_2_with_negative=True)["f1"] == pytest.approx(best_f1)


def test_the_tuned_threshold_blanks_everything_when_no_span_helps():
    examples = [example("a", ["x"]), example("b", [])]

    threshold = squad_metrics.tune_null_threshold(examples, {"a": "wrong", "b": "z"}, {"a": -3.0, "b": 2.0})

    assert threshold == -math.inf
