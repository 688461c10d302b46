"""SQuAD decoding: the best valid span's original text, n-best lists, null scores and the null
threshold, from model outputs written by hand."""

import numpy as np

from albert_tf.finetuning import squad_postprocess
from tests.squad_fixtures import CONTEXT, features_for


def position_of(feature, word):
    """The window position of the token that starts `word` in the context."""
    return next(p for p, (start, _) in sorted(feature.token_spans.items()) if CONTEXT[start:].startswith(word))


def v1_outputs(length, starts, ends):
    """start/end logits of one window: 0 except the {position: logit} given."""
    start_logits, end_logits = np.zeros((1, length)), np.zeros((1, length))
    for position, logit in starts.items():
        start_logits[0, position] = logit
    for position, logit in ends.items():
        end_logits[0, position] = logit
    return {"start_logits": start_logits, "end_logits": end_logits}


def test_v1_decoding_returns_the_original_text_of_the_best_valid_span():
    _, examples, [feature], _ = features_for(max_seq_length=64, is_training=False)
    school, day = position_of(feature, "school"), position_of(feature, "day")
    # The question's tokens score highest, but a span there is never valid.
    outputs = v1_outputs(64, {school: 5.0, 3: 9.0}, {day: 5.0, 3: 9.0})

    predictions, _, _ = squad_postprocess.decode(examples, [feature], outputs)

    assert predictions["q"] == CONTEXT[CONTEXT.index("school"):-1]


def test_a_v1_question_without_any_valid_span_is_answered_empty_as_the_original():
    _, examples, [feature], _ = features_for(max_seq_length=64, is_training=False)
    outputs = v1_outputs(64, {3: 9.0}, {2: 9.0})  # only question tokens can be chosen, so nothing valid

    predictions, _, _ = squad_postprocess.decode(examples, [feature], outputs, n_best_size=1)

    assert predictions["q"] == "empty"


def test_spans_longer_than_max_answer_length_are_not_answers():
    _, examples, [feature], _ = features_for(max_seq_length=64, is_training=False)
    tom, bike, red = position_of(feature, "Tom"), position_of(feature, "bike"), position_of(feature, "red")
    outputs = v1_outputs(64, {tom: 9.0, red: 5.0}, {bike: 9.0})

    predictions, _, _ = squad_postprocess.decode(examples, [feature], outputs, max_answer_length=bike - red + 1)

    assert predictions["q"] == "red bike"


def test_a_span_starting_outside_its_max_context_window_is_left_to_the_other_window():
    _, examples, features, _ = features_for(is_training=False)
    # The same token in two windows, marked max-context in only one: scored highest in the other.
    shared = next(s for s in features[0].token_spans.values() if s in features[1].token_spans.values())
    first, second = ({p for p, s in f.token_spans.items() if s == shared}.pop() for f in features[:2])
    outputs = {"start_logits": np.zeros((len(features), 18)), "end_logits": np.zeros((len(features), 18))}
    owner, other = (0, 1) if features[0].token_is_max_context[first] else (1, 0)
    positions = {0: first, 1: second}
    outputs["start_logits"][other, positions[other]] = outputs["end_logits"][other, positions[other]] = 9.0
    outputs["start_logits"][owner, positions[owner]] = outputs["end_logits"][owner, positions[owner]] = 4.0

    _, nbest, _ = squad_postprocess.decode(examples, features, outputs)

    assert (nbest["q"][0]["start_log_prob"], nbest["q"][0]["end_log_prob"]) == (4.0, 4.0)


def test_nbest_lists_each_answer_text_once_with_its_best_score():
    context = "red bike and red bike"
    _, examples, [feature], _ = features_for(max_seq_length=64, is_training=False, context=context, answer="red")
    positions = sorted(feature.token_spans)
    reds = [p for p in positions if context[feature.token_spans[p][0]:].startswith("red")]
    outputs = v1_outputs(64, {reds[0]: 3.0, reds[1]: 4.0}, {reds[0] + 1: 3.0, reds[1] + 1: 4.0})

    _, nbest, _ = squad_postprocess.decode(examples, [feature], outputs, n_best_size=3)

    red_bikes = [(e["start_log_prob"], e["end_log_prob"]) for e in nbest["q"] if e["text"] == "red bike"]
    assert red_bikes == [(4.0, 4.0)]


def test_nbest_probabilities_are_a_softmax_of_the_scores():
    _, examples, [feature], _ = features_for(max_seq_length=64, is_training=False)
    school = position_of(feature, "school")
    outputs = v1_outputs(64, {school: 2.0}, {school: 3.0, school + 1: 3.0 - np.log(3.0)})

    _, nbest, _ = squad_postprocess.decode(examples, [feature], outputs, n_best_size=2)

    # The two best scores, 5 and 5 − log 3: probabilities 3/4 and 1/4.
    np.testing.assert_allclose([e["probability"] for e in nbest["q"]], [0.75, 0.25])


def test_v2_decoding_pairs_each_top_start_with_its_own_top_ends_and_takes_the_lowest_null_score():
    _, examples, features, _ = features_for(is_training=False)
    window = next(i for i, f in enumerate(features) if any(
        CONTEXT[s:].startswith("school") and f.token_is_max_context[p] for p, (s, _) in f.token_spans.items()))
    school = position_of(features[window], "school")
    k = len(features)
    outputs = {"start_top_index": np.full((k, 2), 0), "start_top_log_probs": np.full((k, 2), -5.0),
               "end_top_index": np.full((k, 2, 2), 0), "end_top_log_probs": np.full((k, 2, 2), -5.0),
               "cls_logits": np.arange(k, dtype=np.float64) - 1.0}
    # Start 2 of the window (log p −0.1) ends at "school" (−0.2); start 1 ends nowhere valid.
    outputs["start_top_index"][window] = [0, school]
    outputs["start_top_log_probs"][window] = [-0.05, -0.1]
    outputs["end_top_index"][window, 1] = [school, 0]
    outputs["end_top_log_probs"][window, 1] = [-0.2, -3.0]

    predictions, _, null_scores = squad_postprocess.decode(examples, features, outputs, version_2_with_negative=True)

    assert (predictions["q"], null_scores["q"]) == ("school", -1.0)


def test_null_threshold_blanks_questions_whose_null_score_reaches_it():
    answers = squad_postprocess.apply_null_threshold({"a": "x", "b": "y", "c": "z"}, {"a": 0.5, "b": -0.5, "c": 0.0},
                                                     threshold=0.0)

    assert answers == {"a": "", "b": "y", "c": ""}
