"""The per-document work of the pretraining data tool, without TensorFlow: tokenizing documents,
making a group's instances and serializing them as `tf.train.Example` records.

The local tool's worker processes run only this module (and SentencePiece): importing TensorFlow
takes seconds, which every worker would pay at start. The records are encoded here by hand, byte for
byte what `tf.train.Example.SerializeToString(deterministic=True)` gives, and faster than building
the protobuf messages.
"""

import collections
import pickle

from albert_tf.data import tfrecord_framing
from albert_tf.data.pretraining_instances import document_rng, instances_from_document
from albert_tf.text.tokenizer import FullTokenizer

_ONE_FLOAT, _ZERO_FLOAT = b"\x00\x00\x80\x3f", b"\x00\x00\x00\x00"  # 1.0 and 0.0, float32 little-endian


class InstanceMaker:
    """The per-document work, the same in the local pool and in the Beam pipeline
    (`pretraining_beam`): tokenizing documents, and making the records of a group of them.
    `model_proto`, the SentencePiece model's bytes if already read, spares reading
    `spm_model_file`."""

    def __init__(self, spm_model_file, do_lower_case, instance_config, model_proto=None):
        self.tokenizer = FullTokenizer(spm_model_file, do_lower_case, model_proto=model_proto)
        self.config = instance_config
        self.vocab_words = self.tokenizer.convert_ids_to_tokens(range(self.tokenizer.vocab_size))
        self.encoder = RecordEncoder(instance_config.max_seq_length, instance_config.max_predictions_per_seq,
                                     self.tokenizer.vocab_size)

    def tokenize(self, documents):
        """Documents (path, line numbers, lines) → (documents as lists of pieces, one list per line
        that has any; (path, line number) of each line with more pieces than an instance can hold)."""
        limit = self.config.max_seq_length - 3
        tokenized, overlong = [], []
        for path, numbers, lines in documents:
            document = []
            for number, tokens in zip(numbers, map(self.tokenizer.tokenize, lines)):
                if len(tokens) > limit:
                    overlong.append((path, number))
                if tokens:
                    document.append(tokens)
            tokenized.append(document)
        return tokenized, overlong

    def group_records(self, seed, dupe, first_index, tokenized):
        """The serialized records and statistics of one pass over a group of tokenized documents, the
        first of them document `first_index` of the corpus. A random next sentence (NSP) comes from
        another document of the group, so a group is the unit both paths hand out."""
        records, stats = [], collections.Counter()
        to_ids = self.tokenizer.convert_tokens_to_ids
        for offset, document in enumerate(tokenized):
            others = [d for i, d in enumerate(tokenized) if i != offset and d]
            rng = document_rng(seed, dupe, first_index + offset)
            for instance in instances_from_document(document, self.config, self.vocab_words, rng, others):
                records.append(self.encoder.encode(
                    to_ids(instance.tokens), instance.segment_ids, instance.token_boundary,
                    instance.masked_lm_positions, to_ids(instance.masked_lm_labels), instance.is_random_next))
                stats["instances"] += 1
                stats["tokens"] += len(instance.tokens)
                stats["masked"] += len(instance.masked_lm_positions)
                stats["label_1"] += int(instance.is_random_next)
                for n in instance.ngram_lengths:
                    stats[f"ngram_{n}"] += 1
        stats["documents"] = len(tokenized)
        return records, stats


def _varint(value):
    encoded = bytearray()
    while value > 0x7F:
        encoded.append(value & 0x7F | 0x80)
        value >>= 7
    encoded.append(value)
    return bytes(encoded)


# Tags of length-delimited fields (a message, a string or a packed list): (field number << 3) | 2.
_FIELD_1, _FIELD_2, _FIELD_3 = b"\x0a", b"\x12", b"\x1a"
_INT64_LIST, _FLOAT_LIST = _FIELD_3, _FIELD_2  # the Feature fields


class RecordEncoder:
    """`tf.train.Example` records in the original schema, encoded by hand.

    An Example is a Features message holding a map from name to Feature; deterministic serialization
    writes the map's entries sorted by name, each as (key, value) fields. An int64 Feature is an
    Int64List of packed varints, a float one a FloatList of packed float32. Every list here is padded
    to a fixed length, so none is empty (an empty one would be left out).
    """

    def __init__(self, max_seq_length, max_predictions_per_seq, vocab_size):
        self.seq, self.predictions = max_seq_length, max_predictions_per_seq
        # Ids, positions and lengths come from a table: a varint costs several Python operations.
        self.varints = [_varint(i) for i in range(max(vocab_size, max_seq_length, 1 << 14))]

    def _field(self, tag, payload):
        length = len(payload)
        return tag + (self.varints[length] if length < len(self.varints) else _varint(length)) + payload

    def encode(self, input_ids, segment_ids, token_boundary, masked_lm_positions, masked_lm_ids, is_random_next):
        """The bytes of one instance: token ids, 0/1 segment ids and boundaries, masked positions
        and their ids, and whether B is the other part swapped (or, with NSP, random)."""
        varints, seq, predictions, field = self.varints, self.seq, self.predictions, self._field
        length, masked = len(input_ids), len(masked_lm_positions)

        def ints(values, padding):
            return b"".join([varints[v] for v in values]) + bytes(padding)

        features = (  # sorted by name
            (b"input_ids", ints(input_ids, seq - length), _INT64_LIST),
            (b"input_mask", b"\x01" * length + bytes(seq - length), _INT64_LIST),
            (b"masked_lm_ids", ints(masked_lm_ids, predictions - masked), _INT64_LIST),
            (b"masked_lm_positions", ints(masked_lm_positions, predictions - masked), _INT64_LIST),
            (b"masked_lm_weights", _ONE_FLOAT * masked + _ZERO_FLOAT * (predictions - masked), _FLOAT_LIST),
            (b"next_sentence_labels", b"\x01" if is_random_next else b"\x00", _INT64_LIST),
            (b"segment_ids", bytes(segment_ids) + bytes(seq - length), _INT64_LIST),
            (b"token_boundary", bytes(token_boundary) + bytes(seq - length), _INT64_LIST),
        )
        entries = b"".join([
            field(_FIELD_1, field(_FIELD_1, name) + field(_FIELD_2, field(kind, field(_FIELD_1, values))))
            for name, values, kind in features])
        return field(_FIELD_1, entries)


# The worker processes' state and tasks. A worker builds its InstanceMaker once, at start; tokenized
# groups travel as bytes pickled here, so that the parent only stores and forwards them.
_maker = None


def start_worker(spm_model_file, model_proto, do_lower_case, instance_config):
    global _maker
    _maker = InstanceMaker(spm_model_file, do_lower_case, instance_config, model_proto)


def tokenize_group(documents):
    """Documents (path, line numbers, lines) → (the tokenized documents, pickled; their count;
    (path, line number) of each overlong line)."""
    tokenized, overlong = _maker.tokenize(documents)
    return pickle.dumps(tokenized, protocol=pickle.HIGHEST_PROTOCOL), len(tokenized), overlong


def make_group_records(task):
    """(seed, dupe, first document index, pickled tokenized group) → (the records framed as in a
    TFRecord file, statistics)."""
    seed, dupe, first_index, tokenized = task
    records, stats = _maker.group_records(seed, dupe, first_index, pickle.loads(tokenized))
    return tfrecord_framing.frame(records), stats
