"""Exact match and F1 by the rules of the official SQuAD v1.1 / v2.0 evaluation scripts.

The two scripts share `normalize_answer` but differ at the edges, and each version is scored by
its own: v2.0 drops reference answers that normalize to nothing (an unanswerable question's only
reference is ""), gives F1 1 when prediction and reference are both empty, and reports HasAns /
NoAns parts; v1.1 keeps every reference and gives F1 0 without a common token.
"""

import collections
import math
import re
import string

ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
PUNCTUATION = set(string.punctuation)


def normalize_answer(text):
    """Lowercase, drop punctuation and the articles a/an/the, collapse whitespace."""
    text = "".join(c for c in text.lower() if c not in PUNCTUATION)
    return " ".join(ARTICLES.sub(" ", text).split())


def exact_match(prediction, gold):
    return float(normalize_answer(prediction) == normalize_answer(gold))


def f1_score(prediction, gold, *, version_2_with_negative):
    """Token-overlap F1 of the normalized answers; by the v2.0 rule two empty answers agree."""
    predicted, reference = normalize_answer(prediction).split(), normalize_answer(gold).split()
    if version_2_with_negative and (not predicted or not reference):
        return float(predicted == reference)
    common = sum((collections.Counter(predicted) & collections.Counter(reference)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(predicted), common / len(reference)
    return 2 * precision * recall / (precision + recall)


def gold_answers(example, *, version_2_with_negative):
    """Reference texts of an example. v2.0: those that normalize to something, else [""]."""
    if not version_2_with_negative:
        if not example.gold_answers:
            raise ValueError(f"question {example.qas_id!r} has no reference answers; SQuAD v1.1 scores only "
                             "questions that have them")
        return list(example.gold_answers)
    return [a for a in example.gold_answers if normalize_answer(a)] or [""]


def has_answer(example):
    """Whether the official v2.0 script counts the question as answerable: it has any answer."""
    return bool(example.gold_answers)


def raw_scores(examples, predictions, *, version_2_with_negative):
    """Per question: the best exact match and F1 over its reference answers."""
    exact, f1 = {}, {}
    for example in examples:
        golds = gold_answers(example, version_2_with_negative=version_2_with_negative)
        prediction = predictions[example.qas_id]
        exact[example.qas_id] = max(exact_match(prediction, g) for g in golds)
        f1[example.qas_id] = max(f1_score(prediction, g, version_2_with_negative=version_2_with_negative)
                                 for g in golds)
    return exact, f1


def _threshold_sweep(examples, predictions, scores, null_scores):
    """The official sweep: start with every answer "" (no-answer questions right), then switch
    questions to their span prediction by increasing null score. Yields (the metric's sum after
    the switch, the switched question's null score), and first (sum with all "", None)."""
    answerable = {e.qas_id: has_answer(e) for e in examples}
    current = sum(1 for q in answerable if not answerable[q])
    yield current, None
    for qas_id in sorted(null_scores, key=null_scores.get):
        if qas_id not in scores:
            continue
        if answerable[qas_id]:
            current += scores[qas_id]
        else:
            current -= 1 if predictions[qas_id] else 0
        yield current, null_scores[qas_id]


def find_best_threshold(examples, predictions, scores, null_scores):
    """The official v2 `find_best_thresh`: (best metric in %, threshold). As in the official
    script, the threshold stays 0.0 when no switch beats answering "" everywhere."""
    best, threshold = -1, 0.0
    for total, null_score in _threshold_sweep(examples, predictions, scores, null_scores):
        if total > best:
            best, threshold = total, threshold if null_score is None else null_score
    return 100.0 * best / len(scores), threshold


def best_thresholds(examples, span_predictions, null_scores):
    """The official `find_all_best_thresh` on the best spans before any threshold (as the original
    ran it): the oracle `best_exact`, `best_f1` and their thresholds, in %."""
    exact, f1 = raw_scores(examples, span_predictions, version_2_with_negative=True)
    results = {}
    results["best_exact"], results["best_exact_thresh"] = find_best_threshold(examples, span_predictions, exact,
                                                                              null_scores)
    results["best_f1"], results["best_f1_thresh"] = find_best_threshold(examples, span_predictions, f1, null_scores)
    return results


def tune_null_threshold(examples, span_predictions, null_scores):
    """The threshold for `apply_null_threshold` ("" when null score >= it) that maximizes F1:
    just above the last switched question's null score, or -inf when "" everywhere is best."""
    _, f1 = raw_scores(examples, span_predictions, version_2_with_negative=True)
    best, threshold = -1, -math.inf
    for total, null_score in _threshold_sweep(examples, span_predictions, f1, null_scores):
        if total > best:
            best, threshold = total, -math.inf if null_score is None else math.nextafter(null_score, math.inf)
    return threshold


def evaluate(examples, predictions, *, version_2_with_negative):
    """Exact match and F1 (in %) of the final answers by that version's official script, under its
    names (v1.1: `exact_match`, v2.0: `exact`) with the question count; v2.0 adds the HasAns /
    NoAns parts for the groups that have questions."""
    exact, f1 = raw_scores(examples, predictions, version_2_with_negative=version_2_with_negative)
    results = {"exact" if version_2_with_negative else "exact_match": 100.0 * sum(exact.values()) / len(exact),
               "f1": 100.0 * sum(f1.values()) / len(f1), "total": len(exact)}
    if version_2_with_negative:
        groups = (("HasAns", [e.qas_id for e in examples if has_answer(e)]),
                  ("NoAns", [e.qas_id for e in examples if not has_answer(e)]))
        for name, ids in groups:
            if ids:
                results[f"{name}_exact"] = 100.0 * sum(exact[i] for i in ids) / len(ids)
                results[f"{name}_f1"] = 100.0 * sum(f1[i] for i in ids) / len(ids)
                results[f"{name}_total"] = len(ids)
    return results
