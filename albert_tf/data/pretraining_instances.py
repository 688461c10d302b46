"""Pretraining instances from tokenized documents: SOP pairs and n-gram masking.

The original `create_pretraining_data.py` algorithm, with its defects fixed:

- Every random choice comes from a `random.Random` seeded by (seed, duplicate pass, document
  index); the original also drew n-gram lengths from NumPy's unseeded global RNG. Output is thus
  reproducible and independent of how documents are spread over workers.
- A chunk of a single segment is split inside the segment (and swapped with p = 0.5, as every SOP
  pair) instead of being paired with a random other document: that made an NSP-style negative
  inside SOP (original issue #234) and needed the whole corpus in memory. With
  `random_next_sentence` (classic NSP), a random B comes from another document of the same group
  of `DOCUMENT_GROUP` documents, which keeps memory bounded.
- The start-piece rule's punctuation is what the original meant (see `_PUNCTUATION`).
"""

import dataclasses
import functools
import random

CLS, SEP, MASK = "[CLS]", "[SEP]", "[MASK]"
DOCUMENT_GROUP = 64
# The original's set as it meant it. It has '"' twice, the second where string.punctuation has "'",
# so a piece like "'s" or "'t" started a word of its own instead of continuing "▁john" or "▁don"
# (whole-word masking then left "'t" to give a masked "▁don" away); and it added "€" and "£" as
# bytes, which no Python 3 str equals. "<", "=" and ">" are left out, as in the original.
_PUNCTUATION = set('!"#$%&\'()*+,-./:;?@[\\]^_`{|}~') | {"€", "£"}
_WORD_CHARACTERS = set("abcdefghijklmnopqrstuvwxyz") | _PUNCTUATION


@dataclasses.dataclass(frozen=True)
class InstanceConfig:
    max_seq_length: int = 512
    max_predictions_per_seq: int = 20
    masked_lm_prob: float = 0.15
    short_seq_prob: float = 0.1
    ngram: int = 3
    favor_shorter_ngram: bool = True
    do_whole_word_mask: bool = True
    random_next_sentence: bool = False


@dataclasses.dataclass
class Instance:
    tokens: list
    segment_ids: list
    token_boundary: list
    masked_lm_positions: list
    masked_lm_labels: list
    is_random_next: bool
    ngram_lengths: list  # lengths of the masked spans, for statistics


def document_rng(seed, dupe, document_index):
    return random.Random(f"{seed}:{dupe}:{document_index}")


@functools.lru_cache(maxsize=1 << 16)
def is_start_piece(piece):
    """Whether a SentencePiece piece starts a word, by the original's rule: it starts with "▁" or
    "<", is punctuation, or has a character outside a-z and punctuation (so digits and non-Latin
    pieces are words of their own). Only pure-letter pieces without "▁" continue a word."""
    return (piece.startswith("▁") or piece.startswith("<") or piece in _PUNCTUATION
            or not all(c.lower() in _WORD_CHARACTERS for c in piece))


def instances_from_document(document, config, vocab_words, rng, other_documents=()):
    """All instances of one document (a list of token lists, one per segment).

    `other_documents` (non-empty) are where `random_next_sentence` takes a random B from.
    """
    max_num_tokens = config.max_seq_length - 3
    target_length = max_num_tokens
    if rng.random() < config.short_seq_prob:
        target_length = rng.randint(2, max_num_tokens)
    instances, chunk, chunk_length, i = [], [], 0, 0
    while i < len(document):
        chunk.append(document[i])
        chunk_length += len(document[i])
        if i == len(document) - 1 or chunk_length >= target_length:
            if config.random_next_sentence:
                pair = _next_sentence_pair(chunk, rng, other_documents, target_length)
            else:
                pair = _sentence_order_pair(chunk, rng)
            if pair is not None:
                tokens_a, tokens_b, is_random_next, unused = pair
                # The segments a random B displaced start the next chunk, as in the original.
                i -= unused
                _truncate_pair(tokens_a, tokens_b, max_num_tokens, rng)
                if tokens_a and tokens_b:
                    instances.append(_instance(tokens_a, tokens_b, is_random_next, config, vocab_words, rng))
            chunk, chunk_length = [], 0
        i += 1
    return instances


def _join(segments):
    return [t for segment in segments for t in segment]


def _split_chunk(chunk, rng):
    """(A, B) in order: the first `a_end` segments and the rest, or one segment cut in two; None for
    a single token."""
    if len(chunk) == 1:
        tokens = list(chunk[0])
        if len(tokens) < 2:
            return None
        split = rng.randint(1, len(tokens) - 1)
        return tokens[:split], tokens[split:]
    a_end = rng.randint(1, len(chunk) - 1)
    return _join(chunk[:a_end]), _join(chunk[a_end:])


def _sentence_order_pair(chunk, rng):
    """(A, B, swapped, 0): the chunk's two parts, swapped with p = 0.5."""
    pair = _split_chunk(chunk, rng)
    if pair is None:
        return None
    tokens_a, tokens_b = pair
    if rng.random() < 0.5:
        return tokens_b, tokens_a, True, 0
    return tokens_a, tokens_b, False, 0


def _next_sentence_pair(chunk, rng, other_documents, target_length):
    """(A, B, random B, segments unused): classic NSP, as the original makes it.

    With p = 0.5, A is the chunk's first `a_end` segments (a single segment whole) and B is whole
    segments of another document, from a random one on, until the pair reaches the target length;
    the chunk's other segments are handed back. Otherwise the chunk's parts in order.
    """
    if not other_documents or rng.random() >= 0.5:
        pair = _split_chunk(chunk, rng)
        return None if pair is None else (*pair, False, 0)
    a_end = rng.randint(1, len(chunk) - 1) if len(chunk) > 1 else 1
    tokens_a, tokens_b = _join(chunk[:a_end]), []
    other = rng.choice(other_documents)
    for segment in other[rng.randint(0, len(other) - 1):]:
        tokens_b.extend(segment)
        if len(tokens_a) + len(tokens_b) >= target_length:
            break
    return tokens_a, tokens_b, True, len(chunk) - a_end


def _truncate_pair(tokens_a, tokens_b, max_num_tokens, rng):
    """Trims the longer side, from the front or the back at random, until the pair fits."""
    while len(tokens_a) + len(tokens_b) > max_num_tokens:
        longer = tokens_a if len(tokens_a) > len(tokens_b) else tokens_b
        if rng.random() < 0.5:
            del longer[0]
        else:
            longer.pop()


def _instance(tokens_a, tokens_b, is_random_next, config, vocab_words, rng):
    tokens = [CLS, *tokens_a, SEP, *tokens_b, SEP]
    segment_ids = [0] * (len(tokens_a) + 2) + [1] * (len(tokens_b) + 1)
    output, positions, labels, boundary, lengths = mask_tokens(tokens, config, vocab_words, rng)
    return Instance(output, segment_ids, boundary, positions, labels, is_random_next, lengths)


def mask_tokens(tokens, config, vocab_words, rng):
    """The original's n-gram whole-word masking.

    Returns (masked tokens, positions, original tokens at them, token_boundary, span lengths).
    """
    words, boundary = [], []
    for index, token in enumerate(tokens):
        special = token in (CLS, SEP)
        start = special or is_start_piece(token)
        boundary.append(1 if start else 0)
        if special:
            continue
        if config.do_whole_word_mask and words and not start:
            words[-1].append(index)
        else:
            words.append([index])

    num_to_predict = min(config.max_predictions_per_seq, max(1, int(round(len(tokens) * config.masked_lm_prob))))
    lengths = list(range(1, config.ngram + 1))
    weights = [1.0 / n for n in lengths] if config.favor_shorter_ngram else [1.0 / n for n in reversed(lengths)]
    # Candidate spans start at each word, in random order; a span is cut only when it is reached
    # (most are never reached once the budget is spent).
    starts = list(range(len(words)))
    rng.shuffle(starts)

    output, masked, covered, span_lengths = list(tokens), [], set(), []
    for start in starts:
        if len(masked) >= num_to_predict:
            break
        spans = words[start:start + config.ngram]
        n = rng.choices(lengths[:len(spans)], weights=weights[:len(spans)])[0]
        # Shorter n-grams when the chosen one would overshoot the budget, as the original does.
        while n > 1 and len(masked) + sum(len(w) for w in spans[:n]) > num_to_predict:
            n -= 1
        indexes = [i for word in spans[:n] for i in word]
        if len(masked) + len(indexes) > num_to_predict or any(i in covered for i in indexes):
            continue
        span_lengths.append(n)
        for index in indexes:
            covered.add(index)
            if rng.random() < 0.8:
                replacement = MASK
            elif rng.random() < 0.5:
                replacement = tokens[index]
            else:
                replacement = vocab_words[rng.randint(0, len(vocab_words) - 1)]
            output[index] = replacement
            masked.append((index, tokens[index]))
    masked.sort()
    return output, [i for i, _ in masked], [t for _, t in masked], boundary, span_lengths
