"""Model outputs on doc-stride windows → answers per question: n-best spans, null scores.

v1.1 scores a span by start logit + end logit; v2.0 by start log-prob + end log-prob from the
model's top-k starts and their top-k ends. A span is valid when both ends lie in the context of
the window, the end does not precede the start, it is at most `max_answer_length` tokens long,
and the window is the start token's max-context window. The answer text is the original
context between the first token's first character and the last token's last character.
"""

import collections
import dataclasses

import numpy as np
import tensorflow as tf


@dataclasses.dataclass(frozen=True)
class Candidate:
    """An answer text with the start and end scores (v1.1 logits, v2.0 log-probs) of its span."""

    text: str
    start_score: float
    end_score: float

    @property
    def score(self):
        return self.start_score + self.end_score


# What the original answers when no span of a question is valid: the text "empty" (v1.1), or no
# answer with log-probs of -1e6 (v2.0).
NO_SPAN_V1 = Candidate("empty", 0.0, 0.0)
NO_SPAN_V2 = Candidate("", -1e6, -1e6)


def _spans_v1(outputs, i, n_best_size):
    starts = np.argsort(-outputs["start_logits"][i])[:n_best_size]
    ends = np.argsort(-outputs["end_logits"][i])[:n_best_size]
    for s in starts:
        for e in ends:
            yield int(s), int(e), float(outputs["start_logits"][i][s]), float(outputs["end_logits"][i][e])


def _spans_v2(outputs, i, n_best_size):
    del n_best_size  # the model already chose start_n_top × end_n_top spans
    for k, s in enumerate(outputs["start_top_index"][i]):
        for j, e in enumerate(outputs["end_top_index"][i][k]):
            yield (int(s), int(e), float(outputs["start_top_log_probs"][i][k]),
                   float(outputs["end_top_log_probs"][i][k][j]))


def decode(examples, features, outputs, n_best_size=20, max_answer_length=30, version_2_with_negative=False):
    """Returns (predictions {id: text}, nbest {id: [dict]}, null_scores {id: float} or None).

    `outputs` holds the model's outputs as arrays, one row per feature. The null score of a
    question is the minimum of its windows' `cls_logits` (v2), as the original. n-best entries
    have the original's fields: text, probability (softmax over the listed spans' scores),
    start_log_prob and end_log_prob (the original's names, which for v1.1 hold logits).
    """
    by_example = collections.defaultdict(list)
    for i, feature in enumerate(features):
        by_example[feature.example_index].append(i)
    spans = _spans_v2 if version_2_with_negative else _spans_v1
    predictions, nbest, null_scores = {}, {}, {} if version_2_with_negative else None
    for example_index, example in enumerate(examples):
        candidates = {}
        for i in by_example[example_index]:
            feature = features[i]
            for start, end, start_score, end_score in spans(outputs, i, n_best_size):
                if (start not in feature.token_spans or end not in feature.token_spans or end < start
                        or end - start + 1 > max_answer_length or not feature.token_is_max_context.get(start)):
                    continue
                text = example.context[feature.token_spans[start][0]:feature.token_spans[end][1]].strip()
                candidate = Candidate(text, start_score, end_score)
                # One entry per answer text, as the original: the same words at two places are one
                # answer to the metrics.
                if text not in candidates or candidates[text].score < candidate.score:
                    candidates[text] = candidate
        ranked = sorted(candidates.values(), key=lambda c: -c.score)[:n_best_size] or [
            NO_SPAN_V2 if version_2_with_negative else NO_SPAN_V1]
        probabilities = tf.nn.softmax(np.array([c.score for c in ranked], np.float64)).numpy()
        nbest[example.qas_id] = [{"text": c.text, "probability": float(p), "start_log_prob": c.start_score,
                                  "end_log_prob": c.end_score} for c, p in zip(ranked, probabilities)]
        predictions[example.qas_id] = ranked[0].text
        if version_2_with_negative:
            null_scores[example.qas_id] = float(min(outputs["cls_logits"][i] for i in by_example[example_index]))
    return predictions, nbest, null_scores


def apply_null_threshold(predictions, null_scores, threshold):
    """"" for every question whose null score reaches `threshold`, else its best span."""
    return {qas_id: "" if null_scores[qas_id] >= threshold else text for qas_id, text in predictions.items()}
