"""Fine-tuning features cached as TFRecords, so a second run skips tokenization.

A cache is `<name>.tf_record` plus `<name>.json`, which records what made it (tokenizer file,
lowercasing, sequence lengths, source file) and the counts of the preprocessing. A cache made
with other settings is rebuilt instead of being read with the wrong shapes or ids.
"""

import hashlib
import json

import numpy as np
import tensorflow as tf
from absl import logging

from albert_tf.staging import discard, staging_path, write_text


def cache_path(path_flag, default_path):
    """The prefix of a cache: the flag's, else the default. The original's cache flags named the
    TFRecord file itself, so a `.tf_record` ending is taken off rather than doubled."""
    if not path_flag:
        return default_path
    return path_flag[:-len(".tf_record")] if path_flag.endswith(".tf_record") else path_flag


def files_digest(paths):
    """SHA-256 of the files' bytes, in order, for a cache key: a cache of edited data is stale even
    at the same path. Names do not count: a copy has the digest of its original."""
    digest = hashlib.sha256()
    for path in paths:
        with tf.io.gfile.GFile(path, "rb") as f:
            data = f.read()
        digest.update(len(data).to_bytes(8, "little") + data)
    return digest.hexdigest()


def _feature(values):
    values = np.asarray(values).reshape(-1)
    if values.dtype.kind == "f":
        return tf.train.Feature(float_list=tf.train.FloatList(value=values.tolist()))
    return tf.train.Feature(int64_list=tf.train.Int64List(value=values.tolist()))


def write_features(path, features, key, stats):
    """Writes `features` (a list of {name: int or float array}) and the `.json` sidecar.

    The sidecar goes first and comes back last, so a cache killed midway is never read: the
    records are written aside, and a sidecar beside them says they are complete."""
    if tf.io.gfile.exists(path + ".json"):
        tf.io.gfile.remove(path + ".json")
    staged = staging_path(path + ".tf_record")
    try:
        with tf.io.TFRecordWriter(staged) as writer:
            for feature in features:
                example = tf.train.Example(features=tf.train.Features(
                    feature={name: _feature(value) for name, value in sorted(feature.items())}))
                writer.write(example.SerializeToString())
        tf.io.gfile.rename(staged, path + ".tf_record", overwrite=True)
    except BaseException:
        discard(staged)
        raise
    write_text(path + ".json", json.dumps({"key": key, "stats": {**stats, "num_features": len(features)}}, indent=1,
                                          sort_keys=True))


def cached_stats(path, key):
    """The stats of a cache made with `key`, or None when there is none or it was made otherwise."""
    if not (tf.io.gfile.exists(path + ".json") and tf.io.gfile.exists(path + ".tf_record")):
        return None
    with tf.io.gfile.GFile(path + ".json") as f:
        sidecar = json.load(f)
    return sidecar["stats"] if sidecar.get("key") == key else None


def read_features(path, spec):
    """A dataset of feature dicts; `spec` maps names to (shape, tf dtype), ints come back int32."""
    parse_spec = {name: tf.io.FixedLenFeature([int(np.prod(shape))], tf.float32 if dtype.is_floating else tf.int64)
                  for name, (shape, dtype) in spec.items()}

    def parse(record):
        parsed = tf.io.parse_single_example(record, parse_spec)
        return {name: tf.reshape(tf.cast(parsed[name], dtype), shape) for name, (shape, dtype) in spec.items()}

    return tf.data.TFRecordDataset(path + ".tf_record").map(parse, num_parallel_calls=tf.data.AUTOTUNE)


def load_or_build(path, key, build, spec, description):
    """The cached features at `path`, built first with `build()` → (features, stats) when the
    cache is missing or was made with another `key`. Logs how many examples were truncated.

    Returns the dataset and the stats (which include `examples` and `truncated`).
    """
    stats = cached_stats(path, key)
    if stats is None:
        features, stats = build()
        write_features(path, features, key, stats)
    else:
        logging.info("Read cached %s features from %s.tf_record.", description, path)
    if not stats["examples"]:
        raise ValueError(f"{description}: no examples")
    if stats["truncated"]:
        logging.warning("%s: %d of %d examples were truncated to fit the length limits (--max_seq_length; "
                        "for SQuAD, questions cut to --max_query_length).", description, stats["truncated"],
                        stats["examples"])
    return read_features(path, spec), stats
