"""SQuAD reading (errors that name the file and question), token ↔ character alignment, doc-stride
windows with p_mask and max-context marks, and the TFRecord feature cache."""

import json
import random

import numpy as np
import pytest

from albert_tf import FullTokenizer
from albert_tf.finetuning import feature_cache, squad_data
from tests.squad_fixtures import CONTEXT, SAMPLE_MODEL, features_for, squad_file


# --- reading ---------------------------------------------------------------------------------

def test_an_answer_not_found_at_its_start_names_the_question(tmp_path):
    path = squad_file(tmp_path / "train.json", [{"id": "q1", "question": "What?",
                                                 "answers": [{"text": "bike", "answer_start": 3}]}])

    with pytest.raises(squad_data.SquadFormatError, match=r"question 'q1': answer 'bike' is not at answer_start=3"):
        squad_data.read_examples(path, is_training=True, version_2_with_negative=False)


def test_an_answer_matches_across_a_run_of_whitespace_as_in_the_official_scripts(tmp_path):
    context = "He lives in New  York today."
    path = squad_file(tmp_path / "train.json", [{"id": "q", "question": "Where?", "answers": [
        {"text": "New York", "answer_start": context.index("New")}]}], context=context)

    [example] = squad_data.read_examples(path, is_training=True, version_2_with_negative=False)

    assert example.start_char == context.index("New")


def test_a_negative_answer_start_is_an_error(tmp_path):
    path = squad_file(tmp_path / "train.json", [{"id": "q4", "question": "What?",
                                                 "answers": [{"text": "day.", "answer_start": -4}]}])

    with pytest.raises(squad_data.SquadFormatError, match=r"question 'q4': answer 'day.' is not at answer_start=-4"):
        squad_data.read_examples(path, is_training=True, version_2_with_negative=False)


def test_an_empty_training_answer_must_be_marked_impossible(tmp_path):
    path = squad_file(tmp_path / "train.json", [{"id": "q5", "question": "What?",
                                                 "answers": [{"text": " ", "answer_start": 3}]}])

    with pytest.raises(squad_data.SquadFormatError, match=r"question 'q5': the answer to train on is empty"):
        squad_data.read_examples(path, is_training=True, version_2_with_negative=True)


def test_a_training_question_without_answers_must_be_marked_impossible(tmp_path):
    path = squad_file(tmp_path / "train.json", [{"id": "q2", "question": "Who?", "answers": []}])

    with pytest.raises(squad_data.SquadFormatError, match=r"'q2' has no answers and is not marked is_impossible"):
        squad_data.read_examples(path, is_training=True, version_2_with_negative=True)


def test_unanswerable_questions_need_the_v2_flag(tmp_path):
    path = squad_file(tmp_path / "train.json", [{"id": "q3", "question": "Who?", "answers": [], "is_impossible": True}])

    with pytest.raises(squad_data.SquadFormatError, match=r"pass --version_2_with_negative"):
        squad_data.read_examples(path, is_training=True, version_2_with_negative=False)


def test_plausible_answers_are_not_references(tmp_path):
    path = squad_file(tmp_path / "dev.json", [{"id": "q", "question": "Who?", "answers": [], "is_impossible": True,
                                               "plausible_answers": [{"text": "Tom", "answer_start": 0}]}])

    [example] = squad_data.read_examples(path, is_training=False, version_2_with_negative=True)

    assert example.gold_answers == ()


def test_a_training_answer_needs_an_integer_answer_start(tmp_path):
    path = squad_file(tmp_path / "train.json", [{"id": "q7", "question": "Who?", "answers": [{"text": "Tom"}]}])

    with pytest.raises(squad_data.SquadFormatError, match=r"question 'q7': answer needs an integer 'answer_start'"):
        squad_data.read_examples(path, is_training=True, version_2_with_negative=False)


def test_answers_to_score_against_need_only_their_text(tmp_path):
    path = squad_file(tmp_path / "dev.json", [{"id": "q", "question": "Who?", "answers": [{"text": "Tom"}]}])

    [example] = squad_data.read_examples(path, is_training=False, version_2_with_negative=False)

    assert example.gold_answers == ("Tom",)


def test_an_article_without_paragraphs_is_an_error_naming_it(tmp_path):
    path = tmp_path / "dev.json"
    path.write_text(json.dumps({"data": [{"title": "Botchan", "paragrahps": []}]}))

    with pytest.raises(squad_data.SquadFormatError, match=r"dev.json: article 'Botchan' has no 'paragraphs' list"):
        squad_data.read_examples(str(path), is_training=False, version_2_with_negative=False)


def test_a_question_without_an_id_is_an_error_naming_the_file(tmp_path):
    path = squad_file(tmp_path / "dev.json", [{"question": "Who?", "answers": []}])

    with pytest.raises(squad_data.SquadFormatError, match=r"dev.json: a question without 'id' or 'question'"):
        squad_data.read_examples(path, is_training=False, version_2_with_negative=True)


def test_a_repeated_question_id_is_an_error_naming_it(tmp_path):
    question = {"id": "q6", "question": "Who?", "answers": [{"text": "Tom", "answer_start": 0}]}
    path = squad_file(tmp_path / "dev.json", [question, dict(question, question="Whose bike?")])

    with pytest.raises(squad_data.SquadFormatError, match=r"question id 'q6' is used twice"):
        squad_data.read_examples(path, is_training=False, version_2_with_negative=False)


def test_a_file_that_is_not_json_is_an_error_naming_it(tmp_path):
    path = tmp_path / "dev.json"
    path.write_text('{"data": [')

    with pytest.raises(squad_data.SquadFormatError, match=r"dev.json: not a SQuAD JSON file"):
        squad_data.read_examples(str(path), is_training=False, version_2_with_negative=False)


# --- alignment -------------------------------------------------------------------------------

ACCENTED = "  Café owner  BOB paid £3,000.50 for a naïve Über-car!"


def test_aligned_pieces_are_the_tokenizers_pieces():
    tokenizer = FullTokenizer(SAMPLE_MODEL)

    pieces, _ = squad_data.tokenize_with_char_spans(tokenizer, ACCENTED)

    assert pieces == tokenizer.tokenize(ACCENTED)


def test_every_token_maps_back_to_its_original_characters_through_preprocessing():
    _, spans = squad_data.tokenize_with_char_spans(FullTokenizer(SAMPLE_MODEL), ACCENTED)

    recovered = "".join(ACCENTED[start:end] for start, end in spans)

    assert recovered == "".join(ACCENTED.split())


def test_tokens_map_to_their_characters_where_sentencepiece_normalizes_them():
    tokenizer = FullTokenizer(SAMPLE_MODEL)
    text = "The ﬁnal … costs ½ of ＡＢＣ."  # NFKC changes the ligature, ellipsis, fraction, full width

    _, spans = squad_data.tokenize_with_char_spans(tokenizer, text)

    # "…" becomes three "." pieces, each mapped to it, so the test is coverage, not concatenation.
    covered = {i for start, end in spans for i in range(start, end)}
    assert covered == {i for i, c in enumerate(text) if not c.isspace()}


def test_a_training_answer_maps_to_the_tokens_of_its_exact_characters():
    context = "He lives in New  York today."
    _, _, [feature], _ = features_for(max_seq_length=64, context=context, answer="New  York")

    start, end = feature.token_spans[feature.start_position][0], feature.token_spans[feature.end_position][1]

    assert context[start:end] == "New  York"


def test_an_answer_that_preprocessing_removes_entirely_is_an_error_naming_the_question():
    # A lone combining accent: accent stripping leaves no character, so no token can be the answer.
    with pytest.raises(squad_data.SquadFormatError, match=r"question 'q': no token of the context covers"):
        features_for(max_seq_length=64, context="Tom \u0301 has a bike.", answer="\u0301")


# --- windows ---------------------------------------------------------------------------------

def test_windows_together_cover_every_context_token():
    tokenizer, _, features, _ = features_for()

    covered = {span for feature in features for span in feature.token_spans.values()}

    assert covered == set(squad_data.tokenize_with_char_spans(tokenizer, CONTEXT)[1])


def test_each_training_window_targets_the_answer_or_else_cls():
    _, _, features, _ = features_for()

    labels = []
    for feature in features:
        if feature.is_impossible:
            labels.append("[CLS]" if feature.start_position == feature.end_position == 0 else "bad")
        else:
            start, end = feature.token_spans[feature.start_position][0], feature.token_spans[feature.end_position][1]
            labels.append(CONTEXT[start:end])

    assert set(labels) == {"school", "[CLS]"}


def test_windows_without_the_answer_are_counted():
    _, _, features, stats = features_for()

    assert stats["answer_outside"] == sum(f.is_impossible for f in features) > 0


def test_training_windows_follow_the_originals_one_shuffle_of_the_questions():
    tokenizer = FullTokenizer(SAMPLE_MODEL)
    examples = [squad_data.SquadExample(f"q{i}", f"Question {i}?", CONTEXT, "school", CONTEXT.index("school"), False,
                                        ("school",)) for i in range(8)]
    features, _ = squad_data.build_features(examples, tokenizer, 18, 4, 8, is_training=True)
    original_order = list(examples)
    random.Random(12345).shuffle(original_order)  # what the original did to its training examples

    ordered = squad_data.in_training_order(features, len(examples))

    # Each question's windows stay together, in the original's question order.
    assert [examples[f.example_index].qas_id for f in ordered] == [
        example.qas_id for example in original_order for f in features if examples[f.example_index] is example]


def test_questions_over_max_query_length_are_cut_and_counted():
    _, _, [feature], stats = features_for(max_seq_length=64, max_query_length=2)

    # [CLS], two question tokens, [SEP], then the context.
    assert (stats["truncated"], min(feature.token_spans)) == (1, 4)


def test_p_mask_leaves_only_cls_and_the_context_selectable():
    _, _, features, _ = features_for()
    feature = features[0]

    selectable = [i for i, masked in enumerate(feature.p_mask) if not masked]

    assert selectable == [0] + sorted(feature.token_spans)


def test_segment_ids_mark_the_context_and_its_closing_sep():
    _, _, [feature], _ = features_for(max_seq_length=40)
    context_end = max(feature.token_spans)

    second_segment = [i for i, segment in enumerate(feature.input_type_ids) if segment]

    assert second_segment == list(range(min(feature.token_spans), context_end + 2))


def test_each_context_token_is_max_context_in_exactly_one_window():
    tokenizer, _, features, _ = features_for()
    spans = squad_data.tokenize_with_char_spans(tokenizer, CONTEXT)[1]

    owners = {span: sum(f.token_is_max_context[p] for f in features for p, s in f.token_spans.items() if s == span)
              for span in set(spans)}

    assert set(owners.values()) == {1}


def test_max_context_prefers_the_window_where_the_token_is_most_central():
    # Windows [0, 4) and [2, 6) of a 6-token context: token 3 has context (3 left, 0 right) in the
    # first and (1, 2) in the second, so the second is its max-context window.
    windows = [(0, 4), (2, 4)]

    assert [squad_data._is_max_context(windows, i, 3) for i in range(2)] == [False, True]


# --- feature cache ---------------------------------------------------------------------------

def test_cached_features_read_back_as_the_model_inputs_and_targets(tmp_path):
    _, _, features, stats = features_for()
    arrays = [squad_data.feature_arrays(f, is_training=True) for f in features]
    path = str(tmp_path / "train")
    feature_cache.write_features(path, arrays, {"made": "here"}, stats)

    dataset = feature_cache.read_features(path, squad_data.feature_spec(18, is_training=True))

    read = list(dataset.as_numpy_iterator())
    assert all(np.array_equal(r[name], a[name]) for r, a in zip(read, arrays, strict=True) for name in a)

