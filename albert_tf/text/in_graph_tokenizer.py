"""`InGraphTokenizer`: `FullTokenizer` as TensorFlow ops, so a SavedModel can take raw strings."""

import base64
import unicodedata

import keras
import tensorflow as tf
import tensorflow_text as tf_text

SPIECE_UNDERLINE = "▁"


def _character_class(predicate):
    """An RE2 character class of every code point for which `predicate` holds, as ranges."""
    ranges, start = [], None
    for code in range(0x110001):
        inside = code <= 0x10FFFF and predicate(chr(code))
        if inside and start is None:
            start = code
        elif not inside and start is not None:
            ranges.append(f"\\x{{{start:X}}}" + (f"-\\x{{{code - 1:X}}}" if code - 1 > start else ""))
            start = None
    return "[" + "".join(ranges) + "]"


# Built from Python's own Unicode data, so the graph applies exactly the rules `preprocess_text`
# applies: RE2's \s is ASCII-only and RE2 has no canonical-combining-class property.
WHITESPACE = _character_class(str.isspace)
COMBINING_MARKS = _character_class(lambda c: unicodedata.combining(c) != 0)


def _lower(texts):
    """`str.lower` in the graph. tf.strings.lower stops at a NUL character (and a NUL separator
    attribute is dropped too), so the NUL-separated parts are lowered and joined back with NULs
    carried as data."""
    parts = tf.strings.split(texts, "\x00")
    lowered = tf.strings.lower(parts, encoding="utf-8")
    joined = tf.strings.reduce_join(lowered.with_flat_values(lowered.flat_values + "\x00"), axis=-1)
    return tf.strings.substr(joined, tf.zeros_like(tf.strings.length(joined)), tf.strings.length(joined) - 1)


@keras.saving.register_keras_serializable(package="albert_tf")
class InGraphTokenizer(keras.layers.Layer):
    """Strings [B] → int32 token ids, a `tf.RaggedTensor` [B, (tokens)], exactly as `FullTokenizer`.

    The same preprocessing (whitespace collapse, NFKD, combining marks stripped, optional
    lowercase), SentencePiece via tensorflow-text, and the digit-comma rule. Invalid UTF-8 bytes
    become U+FFFD, as `bytes.decode("utf-8", errors="replace")` does before `FullTokenizer`.
    The SentencePiece model is kept in the layer (and in its config), so a saved model needs no
    file at load time.
    """

    def __init__(self, spm_model_file=None, do_lower_case=True, spm_model=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(spm_model, str):  # from get_config, which must be JSON
            spm_model = base64.b64decode(spm_model)
        if spm_model is None:
            if spm_model_file is None or not tf.io.gfile.exists(spm_model_file):
                raise FileNotFoundError(f"SentencePiece model not found: {spm_model_file}")
            with tf.io.gfile.GFile(spm_model_file, "rb") as f:
                spm_model = f.read()
        self.spm_model = spm_model
        self.do_lower_case = do_lower_case
        self.sentencepiece = tf_text.SentencepieceTokenizer(model=spm_model, out_type=tf.string)

    def preprocess(self, texts):
        texts = tf.strings.unicode_transcode(texts, "UTF-8", "UTF-8", errors="replace", replacement_char=0xFFFD)
        texts = tf.strings.regex_replace(texts, WHITESPACE + "+", " ")
        texts = tf.strings.regex_replace(texts, "^ | $", "")
        texts = tf_text.normalize_utf8(texts, "NFKD")
        texts = tf.strings.regex_replace(texts, COMBINING_MARKS, "")
        return _lower(texts) if self.do_lower_case else texts

    def tokenize(self, texts):
        """Strings [B] → pieces, a ragged string tensor [B, (pieces)]."""
        return self._split_digit_commas(self.sentencepiece.tokenize(self.preprocess(texts)))

    def call(self, texts):
        return self.sentencepiece.string_to_id(self.tokenize(texts))

    def _split_digit_commas(self, pieces):
        # A piece like "3.0," is re-encoded without its comma, which becomes a piece of its own
        # (see `encode_pieces`). Only such pieces go through SentencePiece again: every piece would
        # double the cost of tokenizing, most of a small model's serving time.
        flat = pieces.flat_values
        applies = tf.strings.regex_full_match(flat, r".*\p{Nd},")
        matches = tf.where(applies)[:, 0]
        matched = tf.gather(flat, matches)
        length = tf.strings.length(matched, unit="UTF8_CHAR")
        body = tf.strings.substr(matched, tf.zeros_like(length), length - 1, unit="UTF8_CHAR")
        head = self.sentencepiece.tokenize(tf.strings.regex_replace(body, SPIECE_UNDERLINE, ""))
        # A piece inside a word does not gain the "▁" that re-encoding puts on its first piece.
        inside_word = tf.logical_not(tf.strings.regex_full_match(matched, SPIECE_UNDERLINE + ".*"))
        first = tf.range(tf.size(head.flat_values), dtype=tf.int64) == tf.repeat(
            head.row_starts(), head.row_lengths())
        strip = first & tf.repeat(inside_word, head.row_lengths())
        head_values = tf.where(strip, tf.strings.regex_replace(head.flat_values, "^" + SPIECE_UNDERLINE, ""),
                               head.flat_values)
        head = head.with_flat_values(head_values)
        head = tf.ragged.boolean_mask(head, tf.strings.length(head) > 0)
        split = tf.concat([head, tf.RaggedTensor.from_tensor(tf.fill([tf.size(matches), 1], ","))], axis=1)
        # Each piece's replacement: its split (rows of `split` moved to the matches' places, the
        # other rows empty), or else itself.
        replacements = tf.RaggedTensor.from_value_rowids(
            split.flat_values, tf.gather(matches, split.value_rowids()), nrows=tf.size(flat, out_type=tf.int64))
        itself = tf.ragged.boolean_mask(tf.RaggedTensor.from_tensor(flat[:, None]), tf.logical_not(applies)[:, None])
        return pieces.with_flat_values(tf.concat([replacements, itself], axis=1)).merge_dims(1, 2)

    def get_config(self):
        return {**super().get_config(), "spm_model": base64.b64encode(self.spm_model).decode("ascii"),
                "do_lower_case": self.do_lower_case}
