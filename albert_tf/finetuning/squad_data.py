"""SQuAD v1.1 / v2.0 JSON → examples → doc-stride windows with token ↔ character alignment.

Every SentencePiece token keeps the character span it covers in the original context, so a
predicted token span maps back to the exact original text (the original release got there with
a character-level LCS between the preprocessed text and the pieces; we keep an explicit
per-character map through preprocessing and align pieces to it with difflib, the same idea).
"""

import dataclasses
import difflib
import json
import random
import unicodedata

import numpy as np
import tensorflow as tf

from albert_tf.progress import logged_progress
from albert_tf.text.tokenizer import SPIECE_UNDERLINE, encode_pieces

# The seed of the original's one shuffle of the training questions (run_squad_v1/v2).
TRAINING_ORDER_SEED = 12345


class SquadFormatError(ValueError):
    """A SQuAD file that does not have the published layout; names the file and question id."""


@dataclasses.dataclass(frozen=True)
class SquadExample:
    qas_id: str
    question: str
    context: str
    answer_text: str  # the first answer, trained on; "" when impossible or not for training
    start_char: int  # its offset in `context`; -1 without answer_text
    is_impossible: bool
    gold_answers: tuple  # every reference answer text (for evaluation)


def read_examples(path, is_training, version_2_with_negative):
    """The questions of a SQuAD JSON file, in file order.

    Training examples need an answer whose text is found at its `answer_start` (unless
    `is_impossible`); a mismatch is an error naming the question, never a silent drop. v2.0's
    `plausible_answers` are read past: neither the original nor the official scripts use them.
    """
    try:
        with tf.io.gfile.GFile(path) as f:
            data = json.load(f)["data"]
    except (json.JSONDecodeError, KeyError, TypeError) as e:
        raise SquadFormatError(f"{path}: not a SQuAD JSON file with a top-level 'data' list ({e})") from None
    if not isinstance(data, list):
        raise SquadFormatError(f"{path}: 'data' is a {type(data).__name__}, not a list of articles")
    examples = []
    for article_index, article in enumerate(data):
        title = article.get("title", article_index) if isinstance(article, dict) else article_index
        for paragraph in _list(path, article, "paragraphs", f"article {title!r}"):
            context = paragraph.get("context") if isinstance(paragraph, dict) else None
            if not isinstance(context, str):
                raise SquadFormatError(f"{path}: a paragraph of article {title!r} has no 'context' text")
            for qa in _list(path, paragraph, "qas", f"a paragraph of article {title!r}"):
                examples.append(_example(path, context, qa, is_training, version_2_with_negative))
    if not examples:
        raise SquadFormatError(f"{path}: no questions")
    seen = set()
    for example in examples:
        # Predictions are keyed by id: a repeated one would silently lose a question.
        if example.qas_id in seen:
            raise SquadFormatError(f"{path}: question id {example.qas_id!r} is used twice")
        seen.add(example.qas_id)
    return examples


def _list(path, parent, key, where):
    if not isinstance(parent, dict) or not isinstance(parent.get(key), list):
        raise SquadFormatError(f"{path}: {where} has no '{key}' list")
    return parent[key]


def _example(path, context, qa, is_training, version_2_with_negative):
    if not isinstance(qa, dict) or "id" not in qa or "question" not in qa:
        raise SquadFormatError(f"{path}: a question without 'id' or 'question': {str(qa)[:200]}")
    qas_id = qa["id"]
    where = f"{path}: question {qas_id!r}"
    is_impossible = bool(qa.get("is_impossible", False))
    if is_impossible and not version_2_with_negative:
        raise SquadFormatError(f"{where} is_impossible, but this is a v1.1 run: pass --version_2_with_negative")
    answers = qa.get("answers", [])
    if not isinstance(answers, list) or not all(isinstance(a, dict) and "text" in a for a in answers):
        raise SquadFormatError(f"{where}: 'answers' must be a list of {{'text', 'answer_start'}}, got {answers}")
    gold = tuple(a["text"] for a in answers)
    if not is_training or is_impossible:
        # Prediction scores against the answer texts only, as the official scripts do.
        return SquadExample(qas_id, qa["question"], context, "", -1, is_impossible, gold)
    if not answers:
        raise SquadFormatError(f"{where} has no answers and is not marked is_impossible")
    answer = answers[0]
    text = answer["text"]
    try:
        start = int(answer["answer_start"])
    except (KeyError, TypeError, ValueError):
        raise SquadFormatError(f"{where}: answer needs an integer 'answer_start', got {answer}") from None
    if not text.strip():
        raise SquadFormatError(f"{where}: the answer to train on is empty; mark the question is_impossible")
    # Compared as the original scripts did, with runs of whitespace collapsed (a context may hold
    # "New  York" where the answer says "New York").
    following = " ".join(context[start:].split()) if 0 <= start < len(context) else ""
    if not following.startswith(" ".join(text.split())):
        raise SquadFormatError(f"{where}: answer {text!r} is not at answer_start={start} (the context there "
                               f"reads {context[max(start, 0):max(start, 0) + len(text)]!r})")
    return SquadExample(qas_id, qa["question"], context, text, start, False, gold)


def preprocess_with_offsets(text, lower):
    """`tokenizer.preprocess_text` keeping, for each output character, its index in `text`."""
    chars, offsets = [], []
    for i, c in enumerate(text):
        if c.isspace():
            if chars and chars[-1] != " ":
                chars.append(" ")
                offsets.append(i)
            continue
        for d in unicodedata.normalize("NFKD", c):
            if unicodedata.combining(d):
                continue
            for out in (d.lower() if lower else d):
                chars.append(out)
                offsets.append(i)
    if chars and chars[-1] == " ":
        chars.pop()
        offsets.pop()
    return "".join(chars), offsets


def tokenize_with_char_spans(tokenizer, text):
    """SentencePiece pieces of `text` and, per piece, the [start, end) span of `text` it covers."""
    processed, offsets = preprocess_with_offsets(text, tokenizer.do_lower_case)
    pieces = encode_pieces(tokenizer.processor, processed)
    # Align the pieces' characters (without "▁") to the processed text's (without spaces).
    kept = [i for i, c in enumerate(processed) if c != " "]
    source = "".join(processed[i] for i in kept)
    piece_chars, owner = [], []
    for index, piece in enumerate(pieces):
        for c in piece.replace(SPIECE_UNDERLINE, ""):
            piece_chars.append(c)
            owner.append(index)
    target = "".join(piece_chars)
    if target == source:
        # SentencePiece's normalization left every character as it was (the usual case): no
        # alignment search, which is quadratic on long contexts.
        position = kept
    else:
        position = [None] * len(target)
        for block in difflib.SequenceMatcher(None, source, target, autojunk=False).get_matching_blocks():
            for k in range(block.size):
                position[block.b + k] = kept[block.a + k]
    spans = [[None, None] for _ in pieces]
    for k, index in enumerate(owner):
        if position[k] is not None:
            original = offsets[position[k]]
            start, end = spans[index]
            spans[index] = [original if start is None else min(start, original),
                            original + 1 if end is None else max(end, original + 1)]
    # A piece with no aligned character (rare: normalization changed it) takes its neighbors' edge.
    last_end = 0
    for span in spans:
        if span[0] is None:
            span[0] = span[1] = last_end
        last_end = span[1]
    return pieces, [tuple(span) for span in spans]


@dataclasses.dataclass
class SquadFeature:
    """One doc-stride window of one example."""

    example_index: int
    input_word_ids: list
    input_mask: list
    input_type_ids: list
    p_mask: list
    token_spans: dict  # window position → (start, end) characters of the context
    token_is_max_context: dict  # window position → whether this window is the token's best
    start_position: int = 0
    end_position: int = 0
    is_impossible: bool = False


def _is_max_context(spans, span_index, position):
    """Whether window `span_index` gives the token at `position` the most context on both sides
    (BERT's rule: min(left, right) context + 0.01 · window length)."""
    best_score, best_index = None, None
    for index, (start, length) in enumerate(spans):
        end = start + length - 1
        if position < start or position > end:
            continue
        score = min(position - start, end - position) + 0.01 * length
        if best_score is None or score > best_score:
            best_score, best_index = score, index
    return best_index == span_index


def in_training_order(features, num_examples, seed=TRAINING_ORDER_SEED):
    """Windows in the order the original trained on them: the questions shuffled once with
    `random.Random(12345)`, each question's windows kept together.

    SQuAD files go article by article, so a shuffle buffer alone would fill each batch from a
    few articles. The original shuffled the examples before making windows; permuting the
    windows afterwards gives the same order and keeps `build_features`' one alignment per
    paragraph.
    """
    order = list(range(num_examples))
    random.Random(seed).shuffle(order)
    rank = {example_index: position for position, example_index in enumerate(order)}
    return sorted(features, key=lambda feature: rank[feature.example_index])


def build_features(examples, tokenizer, max_seq_length, doc_stride, max_query_length, is_training):
    """Doc-stride windows `[CLS] question [SEP] context window [SEP]` for every example.

    p_mask is 1 where an answer cannot be (question, both [SEP], padding), 0 at [CLS] and the
    context. For training, an answer outside a window makes that window impossible (start = end
    = 0, [CLS]) in v1.1 and v2.0 alike, as the original did (its comment says such windows are
    thrown out; its code keeps them). Returns features and counts: examples, features, questions truncated to
    max_query_length (`truncated`) and training windows without their answer (`answer_outside`).
    """
    features, truncated_questions, answer_outside, contexts = [], 0, 0, {}
    cls_id, sep_id = tokenizer.convert_tokens_to_ids(["[CLS]", "[SEP]"])
    for example_index, example in enumerate(logged_progress(examples, "SQuAD: questions windowed")):
        query = tokenizer.tokenize(example.question)
        if len(query) > max_query_length:
            truncated_questions += 1
            query = query[:max_query_length]
        query_ids = tokenizer.convert_tokens_to_ids(query)
        if example.context not in contexts:
            # SQuAD asks several questions of each paragraph: align each paragraph once.
            pieces, spans = tokenize_with_char_spans(tokenizer, example.context)
            contexts = {example.context: (spans, tokenizer.convert_tokens_to_ids(pieces))}
        char_spans, doc_ids = contexts[example.context]
        max_doc_tokens = max_seq_length - len(query) - 3
        if max_doc_tokens < 1:
            raise ValueError(f"--max_seq_length={max_seq_length} leaves no room for context after a "
                             f"{len(query)}-token question; raise it or lower --max_query_length")
        answer_tokens = None
        if is_training and not example.is_impossible:
            answer_end = example.start_char + len(example.answer_text)
            covering = [i for i, (s, e) in enumerate(char_spans) if s < answer_end and e > example.start_char]
            if not covering:
                raise SquadFormatError(f"question {example.qas_id!r}: no token of the context covers its answer "
                                       f"{example.answer_text!r} (preprocessing removed every character of it)")
            answer_tokens = (covering[0], covering[-1])
        windows, start = [], 0
        while True:
            length = min(len(doc_ids) - start, max_doc_tokens)
            windows.append((start, length))
            if start + length >= len(doc_ids):
                break
            start += min(length, doc_stride)
        offset = len(query) + 2
        for window_index, (start, length) in enumerate(windows):
            ids = [cls_id] + query_ids + [sep_id] + doc_ids[start:start + length] + [sep_id]
            padding = max_seq_length - len(ids)
            feature = SquadFeature(
                example_index=example_index,
                input_word_ids=ids + [0] * padding,
                input_mask=[1] * len(ids) + [0] * padding,
                input_type_ids=[0] * offset + [1] * (length + 1) + [0] * padding,
                p_mask=[0] + [1] * (len(query) + 1) + [0] * length + [1] + [1] * padding,
                token_spans={offset + i: char_spans[start + i] for i in range(length)},
                token_is_max_context={offset + i: _is_max_context(windows, window_index, start + i)
                                      for i in range(length)},
                is_impossible=example.is_impossible)
            if answer_tokens is not None:
                if start <= answer_tokens[0] and answer_tokens[1] < start + length:
                    feature.start_position = answer_tokens[0] - start + offset
                    feature.end_position = answer_tokens[1] - start + offset
                else:
                    feature.is_impossible = True
                    answer_outside += 1
            features.append(feature)
    return features, {"examples": len(examples), "features": len(features), "truncated": truncated_questions,
                      "answer_outside": answer_outside}


def feature_arrays(feature, is_training):
    """The model inputs (and training targets) of a feature, for the TFRecord cache."""
    arrays = {"input_word_ids": feature.input_word_ids, "input_mask": feature.input_mask,
              "input_type_ids": feature.input_type_ids, "p_mask": feature.p_mask}
    if is_training:
        arrays.update(start_positions=feature.start_position, end_positions=feature.end_position,
                      is_impossible=int(feature.is_impossible))
    return {name: np.asarray(value, np.int32) for name, value in arrays.items()}


def feature_spec(max_seq_length, is_training):
    """Names, shapes and dtypes of the cached features (see `feature_arrays`)."""
    spec = {name: ((max_seq_length,), tf.int32)
            for name in ("input_word_ids", "input_mask", "input_type_ids", "p_mask")}
    if is_training:
        spec.update({name: ((), tf.int32) for name in ("start_positions", "end_positions", "is_impossible")})
    return spec
