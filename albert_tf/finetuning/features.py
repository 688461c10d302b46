"""Token ids for one or two segments, as the original fine-tuning scripts build them.

[CLS] a [SEP] (b [SEP]) with type ids 0 for the first part and 1 for b and its [SEP], padded
with 0 to `max_seq_length`; a b without tokens makes a single segment, as in the original. Too-long inputs are cut from the end of the longer segment, one
token at a time (the original `_truncate_seq_pair`); callers count how often that happens.
"""

import dataclasses


@dataclasses.dataclass
class EncodedInput:
    input_word_ids: list
    input_mask: list
    input_type_ids: list
    truncated: bool


def truncate_pair(tokens_a, tokens_b, max_length):
    """Pops from the end of the longer list until both fit; True if anything was cut."""
    truncated = False
    while len(tokens_a) + len(tokens_b) > max_length:
        longer = tokens_a if len(tokens_a) > len(tokens_b) else tokens_b
        longer.pop()
        truncated = True
    return truncated


def encode_tokens(tokenizer, tokens_a, tokens_b, max_seq_length):
    """Ids, mask and type ids for tokenized segment(s); `tokens_b` may be None or empty."""
    tokens_a = list(tokens_a)
    # A second text with no tokens (empty, or only whitespace) is no second segment: the original
    # encodes it as [CLS] a [SEP], with a cut to max_seq_length - 2.
    tokens_b = list(tokens_b) if tokens_b else None
    if tokens_b is None:
        truncated = len(tokens_a) > max_seq_length - 2
        tokens_a = tokens_a[:max_seq_length - 2]
        tokens_b_part = []
    else:
        truncated = truncate_pair(tokens_a, tokens_b, max_seq_length - 3)
        tokens_b_part = tokens_b + ["[SEP]"]
    tokens = ["[CLS]"] + tokens_a + ["[SEP]"] + tokens_b_part
    type_ids = [0] * (len(tokens_a) + 2) + [1] * len(tokens_b_part)
    padding = [0] * (max_seq_length - len(tokens))
    return EncodedInput(tokenizer.convert_tokens_to_ids(tokens) + padding, [1] * len(tokens) + padding,
                        type_ids + padding, truncated)


def encode_text(tokenizer, text_a, text_b, max_seq_length):
    """`encode_tokens` of raw text (`tokenizer` is a `FullTokenizer`); `text_b` may be None."""
    return encode_tokens(tokenizer, tokenizer.tokenize(text_a),
                         tokenizer.tokenize(text_b) if text_b is not None else None, max_seq_length)
