"""Pretraining TFRecords (the original `create_pretraining_data.py` schema) → `tf.data`."""

import re

import tensorflow as tf

# The original record schema: feature → (dtype, length in units of max_seq_length (S) or
# max_predictions_per_seq (P)), and the model input each one feeds.
RECORD_FEATURES = {
    "input_ids": (tf.int64, "S", "input_word_ids"),
    "input_mask": (tf.int64, "S", "input_mask"),
    "segment_ids": (tf.int64, "S", "input_type_ids"),
    "masked_lm_positions": (tf.int64, "P", "masked_lm_positions"),
    "masked_lm_ids": (tf.int64, "P", "masked_lm_ids"),
    "masked_lm_weights": (tf.float32, "P", "masked_lm_weights"),
    "next_sentence_labels": (tf.int64, 1, "next_sentence_labels"),
}
# Written by create_pretraining_data for online masking; pretraining does not read it.
UNUSED_FEATURES = ("token_boundary",)

SHUFFLE_BUFFER = 1000
CHECK_PARALLEL_READS = 16


def feature_lengths(max_seq_length, max_predictions_per_seq):
    units = {"S": max_seq_length, "P": max_predictions_per_seq, 1: 1}
    return {name: units[unit] for name, (_, unit, _) in RECORD_FEATURES.items()}


def check_records(files, max_seq_length, max_predictions_per_seq, vocab_size=None):
    """Reads the first record of every file and checks every feature's length and type, and that
    token ids fit `vocab_size`.

    Catches shards made with other --max_seq_length / --max_predictions_per_seq flags or another
    SentencePiece model before training starts, with the file named, instead of an error deep
    inside tf.data or the embedding lookup. The files are opened in parallel, so thousands of
    gs:// shards cost seconds, not minutes.
    """
    expected = feature_lengths(max_seq_length, max_predictions_per_seq)
    firsts = tf.data.Dataset.from_tensor_slices(files).interleave(
        lambda path: tf.data.TFRecordDataset(path).take(1).map(lambda record: (path, record)),
        cycle_length=CHECK_PARALLEL_READS, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    first_records = {path.decode(): record for path, record in firsts.as_numpy_iterator()}
    for path in files:
        if str(path) not in first_records:
            raise ValueError(f"{path}: no records")
        example = tf.train.Example.FromString(first_records[str(path)])
        for name, (dtype, _, _) in RECORD_FEATURES.items():
            if name not in example.features.feature:
                raise ValueError(f"{path}: record has no feature '{name}'; is this a pretraining shard?")
            feature = example.features.feature[name]
            values = feature.float_list.value if dtype == tf.float32 else feature.int64_list.value
            if len(values) != expected[name]:
                raise ValueError(
                    f"{path}: feature '{name}' has length {len(values)}, but max_seq_length={max_seq_length} and "
                    f"max_predictions_per_seq={max_predictions_per_seq} expect {expected[name]}")
        largest = max(example.features.feature["input_ids"].int64_list.value)
        if vocab_size is not None and largest >= vocab_size:
            raise ValueError(f"{path}: token id {largest} does not fit vocab_size={vocab_size} of the ALBERT config; "
                             "were these shards made with another SentencePiece model?")


def is_bad_record(error):
    """Whether a tf.data error is a record that cannot be trained on (one past the first of its file,
    which `check_records` does not read): corrupt, not of the parsing lengths, or with a token id
    past the vocabulary. `find_bad_record` then names it. (A file cut short at its end is not an
    error to tf.data: it reads as ending at its last whole record.)"""
    return isinstance(error, tf.errors.DataLossError) or (
        isinstance(error, tf.errors.InvalidArgumentError)
        and ("parse serialized Example" in error.message or TOKEN_ID_PAST_VOCABULARY in error.message))


def find_bad_record(files, max_seq_length, max_predictions_per_seq, vocab_size=None):
    """(file, record number from 0, what is wrong with it) of the first bad record of `files`, or None.

    tf.data's errors name no file (the files are interleaved), so after one this reads the files
    again, one by one, to name it.
    """
    for path in files:
        records = tf.data.TFRecordDataset(path).map(
            lambda record: parse_record(record, max_seq_length, max_predictions_per_seq, vocab_size))
        count = 0
        try:
            for _ in records:
                count += 1
        except tf.errors.DataLossError as error:
            found = re.search(r"\w+ record at \d+", error.message)
            return path, count, f"the file is corrupt there ({found.group() if found else 'a checksum fails'})"
        except tf.errors.InvalidArgumentError as error:
            if TOKEN_ID_PAST_VOCABULARY in error.message:
                return path, count, f"a token id does not fit vocab_size={vocab_size} of the ALBERT config"
            return path, count, (f"it does not fit max_seq_length={max_seq_length} and max_predictions_per_seq="
                                 f"{max_predictions_per_seq}")
    return None


TOKEN_ID_PAST_VOCABULARY = "token id past vocab_size"


def parse_record(serialized, max_seq_length, max_predictions_per_seq, vocab_size=None):
    """One serialized record → the model's input dict, int32 where the record has int64; with
    `vocab_size`, a token id past it is an error (on GPUs and TPUs the embedding lookup would read
    zeros or another row instead of failing)."""
    lengths = feature_lengths(max_seq_length, max_predictions_per_seq)
    spec = {name: tf.io.FixedLenFeature([lengths[name]], dtype) for name, (dtype, _, _) in RECORD_FEATURES.items()}
    parsed = tf.io.parse_single_example(serialized, spec)
    if vocab_size is not None:
        largest = tf.reduce_max(tf.concat([parsed["input_ids"], parsed["masked_lm_ids"]], 0))
        tf.debugging.Assert(largest < vocab_size, [TOKEN_ID_PAST_VOCABULARY, largest])
    features = {}
    for name, (_, _, input_name) in RECORD_FEATURES.items():
        value = parsed[name]
        features[input_name] = tf.cast(value, tf.int32) if value.dtype == tf.int64 else value
    features["next_sentence_labels"] = features["next_sentence_labels"][0]
    return features


def pretraining_dataset(files, batch_size, max_seq_length, max_predictions_per_seq, is_training,
                        input_context=None, seed=None, vocab_size=None):
    """Batches of model inputs from pretraining shards.

    Args:
        files: list of TFRecord paths.
        batch_size: examples per batch of this input pipeline.
        is_training: repeat, and shuffle files and records (seeded); otherwise read the files
            in order, repeated, so evaluation sees the same examples every time.
        input_context: a `tf.distribute.InputContext`; each pipeline then reads its own files
            (for evaluation from fewer files than pipelines: its own share of the records).
        seed: shuffle seed.
        vocab_size: if given, token ids are checked against it: each file's first record's before
            any batch, every other record's as it is read.
    Batches have static shapes (`drop_remainder`), as TPUs need.
    """
    files = list(files)
    check_records(files, max_seq_length, max_predictions_per_seq, vocab_size)
    dataset = tf.data.Dataset.from_tensor_slices(files)
    pipelines = input_context.num_input_pipelines if input_context else 1
    shard_records = pipelines > len(files)
    if shard_records and is_training:
        raise ValueError(f"{len(files)} input files cannot be split over {pipelines} input pipelines: write at "
                         "least one shard per worker")
    if pipelines > 1 and not shard_records:
        dataset = dataset.shard(pipelines, input_context.input_pipeline_id)
    if is_training:
        dataset = dataset.repeat().shuffle(len(files), seed=seed)
    dataset = dataset.interleave(tf.data.TFRecordDataset, cycle_length=min(4, len(files)),
                                 num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if is_training:
        dataset = dataset.shuffle(SHUFFLE_BUFFER, seed=seed)
    else:
        if shard_records:
            dataset = dataset.shard(pipelines, input_context.input_pipeline_id)
        dataset = dataset.repeat()
    dataset = dataset.map(lambda record: parse_record(record, max_seq_length, max_predictions_per_seq, vocab_size),
                          num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return dataset.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)
