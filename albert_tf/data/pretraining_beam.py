"""Raw text → pretraining TFRecord shards as an Apache Beam pipeline (DirectRunner, Dataflow, Flink, Spark).

The same records as `pretraining_writer` for the same flags and seed, order aside: documents get
the same corpus-wide index (input files in sorted order, documents in file order), are grouped by
`DOCUMENT_GROUP` as the local tool groups them, and each group's records are made by the same
`InstanceMaker.group_records`, with the same per-(seed, pass, document) random generators.

Stages: count the documents of each file (for the corpus-wide indexes; a file is read whole by one
worker, so a corpus of many files spreads best) → tokenize each file → group → make each group's
records for every pass → spread them over the shards by a hash seeded with the seed → check that
every shard gets one → write each shard aside (a hidden `.<name>.incomplete-<id>` sibling, as the
local tool does) → rename them into place and write the stats JSON, last. The local tool's guards
apply: an earlier run's shards under another shard count, its leftovers, an empty shard.
"""

import collections
import hashlib
import json
import time

import apache_beam as beam
import tensorflow as tf

from albert_tf.data.pretraining_instances import DOCUMENT_GROUP
from albert_tf.data.pretraining_records import InstanceMaker
from albert_tf.data.pretraining_writer import (check_config, check_document_counts, check_shard_counts,
                                               count_documents, earlier_outputs, put_in_place, read_documents,
                                               remove_leftovers, stats_path, warn_overlong, write_stats)
from albert_tf.staging import staging_path


def write_pretraining_data(config, options, shuffle=False):
    """Runs the pipeline under Beam `options` (its runner among them); returns the statistics, as
    `pretraining_writer.write_pretraining_data` does. `config.num_workers` is not used: the runner
    decides. With `shuffle`, each shard's records are in an order seeded by `config.random_seed`."""
    check_config(config)
    earlier = earlier_outputs(config)
    remove_leftovers(config)
    start = time.time()
    try:
        with beam.Pipeline(options=options) as pipeline:
            _build(pipeline, config, earlier, shuffle)
    except BaseException:
        remove_leftovers(config)
        raise
    with tf.io.gfile.GFile(stats_path(config)) as f:
        summary = json.load(f)
    return {**summary, "instances_per_second": summary["instances"] / (time.time() - start)}


def _build(pipeline, config, earlier, shuffle):
    files = pipeline | "Input files" >> beam.Create(config.input_files) | "Spread files" >> beam.Reshuffle()
    first_indexes = beam.pvalue.AsSingleton(
        files
        | "Count documents" >> beam.Map(lambda path: (path, count_documents(path)))
        | "Documents per file" >> beam.combiners.ToDict()
        | "First index per file" >> beam.Map(_first_indexes, config.input_files))
    tokenized = (files
                 | "Tokenize" >> beam.ParDo(_Tokenize(config), first_indexes).with_outputs("stats", main="documents"))
    made = (tokenized.documents
            | "Group documents" >> beam.GroupByKey()
            | "Make instances" >> beam.ParDo(_MakeRecords(config)).with_outputs("stats", main="records"))
    checked = beam.pvalue.AsSingleton(
        (tokenized.stats, made.stats)
        | "All statistics" >> beam.Flatten()
        | "Sum statistics" >> beam.CombineGlobally(_SumCounters())
        | "Check shards" >> beam.Map(_check_shards, config))
    (made.records
     | "Group shards" >> beam.GroupByKey()
     | "Write shards aside" >> beam.Map(_write_shard, config, shuffle, checked)
     | "Shards written" >> beam.combiners.ToDict()
     | "Put in place" >> beam.Map(_put_in_place, config, earlier, checked))


def _first_indexes(counts, input_files):
    """{path: corpus-wide index of its first document}, in the local tool's file order."""
    check_document_counts({path: counts[path] for path in input_files})
    firsts, total = {}, 0
    for path in input_files:
        firsts[path] = total
        total += counts[path]
    return firsts


class _Tokenize(beam.DoFn):
    """A file → (group, (corpus-wide index, tokenized document)) per document; its overlong lines
    are warned about and counted in the "stats" output."""

    def __init__(self, config):
        self.config = config

    def setup(self):
        self.maker = InstanceMaker(self.config.spm_model_file, self.config.do_lower_case, self.config.instance)

    def process(self, path, first_indexes):
        index, overlong, batch = first_indexes[path], [], []
        for document in read_documents((path,)):
            batch.append(document)
            if len(batch) == DOCUMENT_GROUP:
                yield from self._tokenized(batch, index, overlong)
                index, batch = index + len(batch), []
        yield from self._tokenized(batch, index, overlong)
        if overlong:
            warn_overlong(path, overlong, self.config.instance)
        yield beam.pvalue.TaggedOutput("stats", collections.Counter(overlong_lines=len(overlong)))

    def _tokenized(self, batch, first_index, overlong):
        tokenized, batch_overlong = self.maker.tokenize(batch)
        overlong.extend(number for _, number in batch_overlong)
        for index, document in enumerate(tokenized, first_index):
            yield index // DOCUMENT_GROUP, (index, document)


class _MakeRecords(beam.DoFn):
    """A group of documents → (shard, (hash, record)) for every record of every pass; statistics
    (with the instances per shard, keyed ("shard", i)) to the "stats" output."""

    def __init__(self, config):
        self.config = config

    def setup(self):
        self.maker = InstanceMaker(self.config.spm_model_file, self.config.do_lower_case, self.config.instance)

    def process(self, element):
        _, documents = element
        indexes, tokenized = zip(*sorted(documents))
        shards, seed = len(self.config.output_files), self.config.random_seed
        for dupe in range(self.config.dupe_factor):
            records, stats = self.maker.group_records(seed, dupe, indexes[0], list(tokenized))
            for record in records:
                key = _record_hash(seed, record)
                stats["shard", key % shards] += 1
                yield key % shards, (key, record)
            yield beam.pvalue.TaggedOutput("stats", stats)


def _record_hash(seed, record):
    """A 64-bit hash of a record under the seed: where it goes and, with --shuffle, its place there."""
    return int.from_bytes(hashlib.blake2b(record, digest_size=8, key=str(seed).encode()).digest(), "little")


class _SumCounters(beam.CombineFn):
    def create_accumulator(self):
        return collections.Counter()

    def add_input(self, total, counts):
        total.update(counts)
        return total

    def merge_accumulators(self, totals):
        merged = collections.Counter()
        for total in totals:
            merged.update(total)
        return merged

    def extract_output(self, total):
        return total


def _check_shards(stats, config):
    """The statistics, once every shard is known to get an instance: a failure here comes before any
    shard is written."""
    check_shard_counts([stats["shard", i] for i in range(len(config.output_files))], config)
    return stats


def _write_shard(element, config, shuffle, stats):
    """Writes a shard's records to a hidden sibling; returns (its final path, that sibling)."""
    del stats  # a side input only so that no shard is written before the check
    shard, keyed_records = element
    if shuffle:
        # Sorting by the seeded hash orders a shard independently of the runner and its workers.
        keyed_records = sorted(keyed_records)
    path = config.output_files[shard]
    staged = staging_path(path)
    with tf.io.TFRecordWriter(staged) as writer:
        for _, record in keyed_records:
            writer.write(record)
    return path, staged


def _put_in_place(staged_shards, config, earlier, stats):
    staged = {**staged_shards, stats_path(config): staging_path(stats_path(config))}
    write_stats(staged[stats_path(config)], stats, config)
    put_in_place(staged, config, earlier)
    # A runner retries a failed bundle: the shards a failed attempt wrote aside are left over.
    remove_leftovers(config)
