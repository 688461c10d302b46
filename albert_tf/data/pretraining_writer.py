"""Raw text → pretraining TFRecord shards in the original record schema, on all cores.

Documents are streamed (one sentence per line, a blank line between documents), in groups of
`DOCUMENT_GROUP`, to a pool of worker processes. A first pass tokenizes them into a temporary file
(in TMPDIR, about twice the size of the text); each of the `dupe_factor` passes reads it back and
makes instances, which come back in input order and are written round-robin to the output files.
Memory holds a few groups, whatever the corpus size and `dupe_factor` (the original held
corpus × dupe_factor instances in RAM, original issue #204). Output bytes depend on the flags and
the seed only, not on the number of workers.
"""

import collections
import contextlib
import dataclasses
import json
import multiprocessing
import os
import pickle
import tempfile
import time

import tensorflow as tf
from absl import logging

from albert_tf.data.pretraining_instances import DOCUMENT_GROUP, InstanceConfig, document_rng, instances_from_document
from albert_tf.text.tokenizer import FullTokenizer

PROGRESS_SECONDS = 10  # between progress lines


@dataclasses.dataclass(frozen=True)
class PretrainingDataConfig:
    input_files: tuple
    output_files: tuple
    spm_model_file: str
    do_lower_case: bool = True
    dupe_factor: int = 40
    random_seed: int = 12345
    num_workers: int = 1
    instance: InstanceConfig = InstanceConfig()


def read_documents(files):
    """Yields documents (lists of non-empty lines) from UTF-8 files; a blank line ends one."""
    for path in files:
        document = []
        with tf.io.gfile.GFile(path, "rb") as f:
            for line_number, raw in enumerate(f, 1):
                try:
                    line = raw.decode("utf-8").strip()
                except UnicodeDecodeError as e:
                    raise ValueError(f"{path}:{line_number}: not UTF-8 ({e.reason} at byte {e.start}); "
                                     "convert the file to UTF-8") from None
                if line:
                    document.append(line)
                elif document:
                    yield document
                    document = []
        if document:
            yield document


def _groups(files):
    group = []
    for document in read_documents(files):
        group.append(document)
        if len(group) == DOCUMENT_GROUP:
            yield group
            group = []
    if group:
        yield group


_worker = {}


def _start_worker(spm_model_file, do_lower_case, instance_config):
    tokenizer = FullTokenizer(spm_model_file, do_lower_case)
    _worker.update(tokenizer=tokenizer, config=instance_config,
                   vocab_words=tokenizer.convert_ids_to_tokens(range(tokenizer.vocab_size)))


def _tokenize_group(documents):
    """Documents (lists of lines) → documents as lists of pieces, one list per non-empty line."""
    tokenizer = _worker["tokenizer"]
    return [[tokens for tokens in map(tokenizer.tokenize, document) if tokens] for document in documents]


def _process_group(task):
    """(seed, dupe, first document index, tokenized documents) → (serialized records, statistics)."""
    seed, dupe, first_index, tokenized = task
    tokenizer, config = _worker["tokenizer"], _worker["config"]
    records, stats = [], collections.Counter()
    for offset, document in enumerate(tokenized):
        others = [d for i, d in enumerate(tokenized) if i != offset and d]
        rng = document_rng(seed, dupe, first_index + offset)
        for instance in instances_from_document(document, config, _worker["vocab_words"], rng, others):
            records.append(_serialize(instance, tokenizer, config))
            stats["instances"] += 1
            stats["tokens"] += len(instance.tokens)
            stats["masked"] += len(instance.masked_lm_positions)
            stats["label_1"] += int(instance.is_random_next)
            for n in instance.ngram_lengths:
                stats[f"ngram_{n}"] += 1
    stats["documents"] = len(tokenized)
    return records, stats


def _serialize(instance, tokenizer, config):
    def ints(values, length):
        return tf.train.Feature(int64_list=tf.train.Int64List(value=list(values) + [0] * (length - len(values))))

    seq, predictions = config.max_seq_length, config.max_predictions_per_seq
    features = {
        "input_ids": ints(tokenizer.convert_tokens_to_ids(instance.tokens), seq),
        "input_mask": ints([1] * len(instance.tokens), seq),
        "segment_ids": ints(instance.segment_ids, seq),
        "token_boundary": ints(instance.token_boundary, seq),
        "masked_lm_positions": ints(instance.masked_lm_positions, predictions),
        "masked_lm_ids": ints(tokenizer.convert_tokens_to_ids(instance.masked_lm_labels), predictions),
        "masked_lm_weights": tf.train.Feature(float_list=tf.train.FloatList(
            value=[1.0] * len(instance.masked_lm_positions) + [0.0] * (predictions - len(instance.masked_lm_positions)))),
        "next_sentence_labels": ints([int(instance.is_random_next)], 1),
    }
    # Deterministic: a protobuf map (the features) otherwise serializes in per-process hash order.
    return tf.train.Example(features=tf.train.Features(feature=features)).SerializeToString(deterministic=True)


def check_config(config):
    """Clear errors before any work; names the original flags."""
    instance = config.instance
    FullTokenizer(config.spm_model_file, config.do_lower_case)
    if instance.max_seq_length < 5:
        raise ValueError(f"--max_seq_length={instance.max_seq_length} leaves no room for two segments")
    if not 0 < instance.masked_lm_prob < 1:
        raise ValueError(f"--masked_lm_prob={instance.masked_lm_prob} must be in (0, 1)")
    if instance.max_predictions_per_seq < 1 or instance.ngram < 1 or config.dupe_factor < 1:
        raise ValueError("--max_predictions_per_seq, --ngram and --dupe_factor must be >= 1")
    wanted = round(instance.max_seq_length * instance.masked_lm_prob)
    if instance.max_predictions_per_seq < wanted:
        logging.warning(
            "--max_predictions_per_seq=%d caps masking below --masked_lm_prob=%g of a full sequence (%d tokens): "
            "full-length sequences get %.1f%% masked, as in the original release's recipe (512, 20).",
            instance.max_predictions_per_seq, instance.masked_lm_prob, wanted,
            100 * instance.max_predictions_per_seq / instance.max_seq_length)


@contextlib.contextmanager
def _worker_map(config):
    """An ordered `map` over the workers: in this process for one worker (a worker process would
    only add its start-up, importing TensorFlow), else over a pool."""
    worker_args = (config.spm_model_file, config.do_lower_case, config.instance)
    if config.num_workers == 1:
        _start_worker(*worker_args)
        yield map
        return
    with multiprocessing.get_context("spawn").Pool(config.num_workers, _start_worker, worker_args) as pool:
        yield pool.imap


class _Progress:
    """Logs, at most every PROGRESS_SECONDS, a stage's documents done of the total, the rates and
    the time left: the passes over a large corpus take hours."""

    def __init__(self, stage, total_documents):
        self.stage, self.total = stage, total_documents
        self.start = self.last_log = time.time()

    def update(self, documents, instances=None):
        now = time.time()
        if now - self.last_log < PROGRESS_SECONDS:
            return
        self.last_log, elapsed = now, max(now - self.start, 1e-9)
        made = "" if instances is None else f", {instances} instances, {instances / elapsed:.0f} instances/s"
        logging.info("%s: %d/%d documents, %.0f documents/s%s, ETA %.0fs", self.stage, documents, self.total,
                     documents / elapsed, made, elapsed * (self.total - documents) / max(documents, 1))


def _tokenize(worker_map, config, total_documents, tokenized):
    """Pickles the tokenized groups into `tokenized`; returns their count."""
    progress, groups, documents = _Progress("tokenizing", total_documents), 0, 0
    for group in worker_map(_tokenize_group, _groups(config.input_files)):
        pickle.dump(group, tokenized, protocol=pickle.HIGHEST_PROTOCOL)
        groups += 1
        documents += len(group)
        progress.update(documents)
    logging.info("tokenized %d documents in %.0fs", total_documents, time.time() - progress.start)
    return groups


def _write_records(results, writers, stats, total_documents, config):
    """Writes each group's records round-robin over the files; logs progress. Returns the count."""
    written, progress = 0, _Progress("making instances", total_documents * config.dupe_factor)
    for records, group_stats in results:
        for record in records:
            writers[written % len(writers)].write(record)
            written += 1
        stats.update(group_stats)
        progress.update(stats["documents"], written)
    return written


def _count_documents(files):
    """Documents in all files; an error when there are none, a warning naming the files without any."""
    counts = {path: sum(1 for _ in read_documents((path,))) for path in files}
    empty = [path for path, count in counts.items() if not count]
    if len(empty) == len(counts):
        raise ValueError(f"no documents in {list(files)}: the files are empty")
    if empty:
        logging.warning("no documents in %s (empty or blank): they add nothing", empty)
    return sum(counts.values())


def write_pretraining_data(config):
    """Writes the shards; returns the statistics (also written as JSON next to the shards)."""
    check_config(config)
    total_documents = _count_documents(config.input_files)
    writers = [tf.io.TFRecordWriter(path) for path in config.output_files]
    stats, start = collections.Counter(), time.time()

    # The corpus is tokenized once, to a temporary file that every pass reads back: tokenizing is
    # as costly as making the instances, and holding the tokens in memory would not scale.
    with _worker_map(config) as worker_map, tempfile.TemporaryFile() as tokenized:
        groups = _tokenize(worker_map, config, total_documents, tokenized)

        def tasks():
            for dupe in range(config.dupe_factor):
                tokenized.seek(0)
                first = 0
                for _ in range(groups):
                    group = pickle.load(tokenized)
                    yield config.random_seed, dupe, first, group
                    first += len(group)

        written = _write_records(worker_map(_process_group, tasks()), writers, stats, total_documents, config)
    for writer in writers:
        writer.close()
    if not written:
        raise ValueError(f"no instances from {list(config.input_files)}: every document is too short")
    if written < len(writers):
        # Round-robin fills the first files only; pretraining would fail on an empty shard.
        raise ValueError(f"{written} instances for {len(writers)} output files: {list(config.output_files[written:])} "
                         "are empty; use fewer --num_shards or --output_file files")
    summary = summarize(stats, config)
    stats_path = os.path.join(os.path.dirname(config.output_files[0]) or ".", "pretraining_data_stats.json")
    with tf.io.gfile.GFile(stats_path, "w") as f:
        f.write(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    # Timing stays out of the JSON, so rebuilding the shards rewrites identical files.
    return {**summary, "instances_per_second": written / (time.time() - start)}


def summarize(stats, config):
    instances = stats["instances"]
    spans = {n: stats[f"ngram_{n}"] for n in range(1, config.instance.ngram + 1)}
    return {
        "instances": instances,
        "documents_per_pass": stats["documents"] // config.dupe_factor,
        "tokens": stats["tokens"],
        "mean_length": stats["tokens"] / instances,
        "masked_fraction": stats["masked"] / stats["tokens"],
        "sentence_order_swapped_fraction": stats["label_1"] / instances,
        "ngram_span_counts": {str(n): count for n, count in spans.items()},
        "output_files": list(config.output_files),
    }
