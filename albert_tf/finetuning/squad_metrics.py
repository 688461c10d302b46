"""Exact match and F1 by the rules of the official SQuAD v1.1 / v2.0 evaluation scripts."""

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


def f1_score(prediction, gold):
    """Token-overlap F1 of the normalized answers; two empty answers agree (v2 no-answer)."""
    predicted, reference = normalize_answer(prediction).split(), normalize_answer(gold).split()
    if not predicted or not reference:
        return float(predicted == reference)
    common = sum((collections.Counter(predicted) & collections.Counter(reference)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(predicted), common / len(reference)
    return 2 * precision * recall / (precision + recall)


def gold_answers(example):
    """Reference texts of an example; [""] when it has none (a v2 no-answer question)."""
    answers = [a for a in example.gold_answers if normalize_answer(a)]
    return answers or [""]


def raw_scores(examples, predictions):
    """Per question: the best exact match and F1 over its reference answers."""
    exact, f1 = {}, {}
    for example in examples:
        golds = gold_answers(example)
        prediction = predictions[example.qas_id]
        exact[example.qas_id] = max(exact_match(prediction, g) for g in golds)
        f1[example.qas_id] = max(f1_score(prediction, g) for g in golds)
    return exact, f1


def _threshold_sweep(examples, predictions, scores, null_scores):
    """The official sweep: start with every answer "" (no-answer questions right), then switch
    questions to their span prediction by increasing null score. Yields (the metric's sum after
    the switch, the switched question's null score), and first (sum with all "", None)."""
    has_answer = {e.qas_id: gold_answers(e) != [""] for e in examples}
    current = sum(1 for q in has_answer if not has_answer[q])
    yield current, None
    for qas_id in sorted(null_scores, key=null_scores.get):
        if qas_id not in scores:
            continue
        if has_answer[qas_id]:
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


def tune_null_threshold(examples, predictions, null_scores):
    """The threshold for `apply_null_threshold` ("" when null score >= it) that maximizes F1:
    just above the last switched question's null score, or -inf when "" everywhere is best."""
    _, f1 = raw_scores(examples, predictions)
    best, threshold = -1, -math.inf
    for total, null_score in _threshold_sweep(examples, predictions, f1, null_scores):
        if total > best:
            best, threshold = total, -math.inf if null_score is None else math.nextafter(null_score, math.inf)
    return threshold


def evaluate(examples, predictions, null_scores=None):
    """exact and f1 (in %), with HasAns/NoAns parts for v2 and, given the null scores, the
    oracle thresholds on these same examples (`best_f1_thresh`: for reporting, not for tuning
    the threshold used on them)."""
    exact, f1 = raw_scores(examples, predictions)
    results = {"exact": 100.0 * sum(exact.values()) / len(exact), "f1": 100.0 * sum(f1.values()) / len(f1),
               "total": len(exact)}
    has_answer = [e.qas_id for e in examples if gold_answers(e) != [""]]
    no_answer = [e.qas_id for e in examples if gold_answers(e) == [""]]
    for name, ids in (("HasAns", has_answer), ("NoAns", no_answer)):
        if ids and no_answer:
            results[f"{name}_exact"] = 100.0 * sum(exact[i] for i in ids) / len(ids)
            results[f"{name}_f1"] = 100.0 * sum(f1[i] for i in ids) / len(ids)
            results[f"{name}_total"] = len(ids)
    if null_scores is not None:
        results["best_exact"], results["best_exact_thresh"] = find_best_threshold(examples, predictions, exact,
                                                                                  null_scores)
        results["best_f1"], results["best_f1_thresh"] = find_best_threshold(examples, predictions, f1, null_scores)
    return results
