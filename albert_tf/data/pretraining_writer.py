"""Raw text → pretraining TFRecord shards in the original record schema, on all cores.

Documents are streamed (one sentence per line, a blank line between documents), in groups of
`DOCUMENT_GROUP`, to a pool of worker processes, started once for the whole run, which do all the
per-document work (`pretraining_records`, without TensorFlow) down to framing the records as
TFRecords: this process reads the text, stores and forwards bytes, and writes them. Neither imports
TensorFlow for local files (`file_system`): its import would be a quarter of a small corpus's run.
A first pass tokenizes the groups into a temporary file (in TMPDIR, about twice the size of the
text); each of the `dupe_factor` passes reads it back and makes instances, which come back in input
order and are written round-robin to the output files. Memory holds a few groups, whatever the
corpus size and `dupe_factor` (the original held corpus × dupe_factor instances in RAM, original
issue #204). Output bytes depend on the flags and the seed only, not on the number of workers. The
files are written aside (hidden siblings) and renamed into place once all are complete, the stats
JSON last: a killed run leaves an earlier complete output as it was.
"""

import collections
import concurrent.futures
import contextlib
import dataclasses
import itertools
import json
import multiprocessing
import os
import pickle
import re
import tempfile
import time
from concurrent.futures.process import BrokenProcessPool

from absl import logging

from albert_tf import file_system
from albert_tf.data import pretraining_records
from albert_tf.data.pretraining_instances import DOCUMENT_GROUP, InstanceConfig
from albert_tf.staging import discard, leftovers, staging_path
from albert_tf.text.tokenizer import FullTokenizer, read_model_proto

PROGRESS_SECONDS = 10  # between progress lines
MAX_GROUPS_PER_TASK, TASKS_PER_WORKER = 4, 8  # see _chunksize
TASKS_AHEAD = 8  # see _ordered_map
STATS_FILE = "pretraining_data_stats.json"
_SHARD_SUFFIX = re.compile(r"-\d{5}-of-\d{5}$")


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
    overwrite: bool = False  # whether an earlier run's shards under another -of-N may be replaced


def read_documents(files):
    """Yields documents from UTF-8 files as (path, line numbers, lines), the non-empty lines; a blank
    line ends one."""
    for path in files:
        numbers, lines = [], []
        with file_system.open(path, "rb") as f:
            for line_number, raw in enumerate(f, 1):
                try:
                    line = raw.decode("utf-8").strip()
                except UnicodeDecodeError as e:
                    raise ValueError(f"{path}:{line_number}: not UTF-8 ({e.reason} at byte {e.start}); "
                                     "convert the file to UTF-8") from None
                if line:
                    numbers.append(line_number)
                    lines.append(line)
                elif lines:
                    yield path, numbers, lines
                    numbers, lines = [], []
        if lines:
            yield path, numbers, lines


def _groups(files):
    group = []
    for document in read_documents(files):
        group.append(document)
        if len(group) == DOCUMENT_GROUP:
            yield group
            group = []
    if group:
        yield group


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
    """An ordered `map(function, tasks, chunksize)` over the workers, for both stages: in this
    process for one worker (a process would only add its start-up and the copying), else over a
    pool of processes started once. They import `pretraining_records` and SentencePiece, not
    TensorFlow, and get the SentencePiece model as bytes read here (from any file system). Spawned,
    they also run the main script's module-level code, as multiprocessing does: the run/ scripts
    import TensorFlow only once their `main` runs."""
    worker_args = (config.spm_model_file, read_model_proto(config.spm_model_file), config.do_lower_case,
                   config.instance)
    if config.num_workers == 1:
        pretraining_records.start_worker(*worker_args)
        yield lambda function, tasks, chunksize: map(function, tasks)
        return
    # An executor, not multiprocessing.Pool: a Pool replaces a worker that dies (say, at the hands
    # of the out-of-memory killer) but loses its task, and the run then waits for it forever.
    pool = concurrent.futures.ProcessPoolExecutor(
        config.num_workers, mp_context=multiprocessing.get_context("spawn"),  # fork would copy TensorFlow's locks
        initializer=pretraining_records.start_worker, initargs=worker_args)
    try:
        yield lambda function, tasks, chunksize: _ordered_map(pool, function, tasks, chunksize, config.num_workers)
    finally:
        pool.shutdown(cancel_futures=True)


def _ordered_map(pool, function, tasks, chunksize, num_workers):
    """`function` over `tasks` on the pool, in chunks, results in order. At most TASKS_AHEAD chunks
    per worker are out at a time, so the tasks are read as the work goes, not all at once."""
    tasks, pending = iter(tasks), collections.deque()
    for chunk in iter(lambda: list(itertools.islice(tasks, chunksize)), []):
        pending.append(pool.submit(_map_chunk, function, chunk))
        if len(pending) >= TASKS_AHEAD * num_workers:
            yield from _results(pending.popleft())
    while pending:
        yield from _results(pending.popleft())


def _map_chunk(function, chunk):
    return [function(task) for task in chunk]


def _results(future):
    try:
        return future.result()
    except BrokenProcessPool as e:
        raise ChildProcessError("a worker process of the data tool died (killed from outside, e.g. by the "
                                "out-of-memory killer: try fewer --num_workers); nothing was put in place, "
                                "rerun to write the output") from e


def _chunksize(groups, config):
    """Groups per task sent to a worker: enough that the copying between processes costs little
    next to the work, few enough that each worker gets several tasks (the work of a pass is spread
    in tasks, and the last task of the run leaves the other workers idle)."""
    return max(1, min(MAX_GROUPS_PER_TASK, groups // (TASKS_PER_WORKER * config.num_workers)))


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


def _tokenize(worker_map, config, total_documents, tokenized, stats):
    """Stores each tokenized group in `tokenized` as (documents, the workers' pickle of them);
    returns their count. Counts the lines longer than an instance in `stats` and names them in a
    warning per file."""
    progress, groups, documents = _Progress("tokenizing", total_documents), 0, 0
    overlong = collections.defaultdict(list)
    chunksize = _chunksize(-(-total_documents // DOCUMENT_GROUP), config)
    for group, count, group_overlong in worker_map(pretraining_records.tokenize_group, _groups(config.input_files),
                                                   chunksize):
        pickle.dump((count, group), tokenized, protocol=pickle.HIGHEST_PROTOCOL)
        groups += 1
        documents += count
        for path, number in group_overlong:
            overlong[path].append(number)
        progress.update(documents)
    logging.info("tokenized %d documents in %.0fs", total_documents, time.time() - progress.start)
    for path, numbers in overlong.items():
        warn_overlong(path, numbers, config.instance)
    stats["overlong_lines"] = sum(map(len, overlong.values()))
    return groups


def warn_overlong(path, numbers, instance_config):
    """One warning for the lines of a file (their line `numbers`) that are longer than an instance."""
    # A pair is cut to max_seq_length - 3 pieces ([CLS] and two [SEP] take the rest), so the rest
    # of such a line never reaches an instance; a text without newlines loses almost all of itself.
    limit = instance_config.max_seq_length - 3
    logging.warning("%s:%d: %d line(s) of more than --max_seq_length - 3 = %d pieces, the first here: an "
                    "instance holds at most %d pieces of a line and drops the rest; put one sentence per line",
                    path, numbers[0], len(numbers), limit, limit)


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


def count_documents(path):
    return sum(1 for _ in read_documents((path,)))


def check_document_counts(counts):
    """The total of {path: documents}; an error when there are none, a warning naming the files without any."""
    empty = [path for path, count in counts.items() if not count]
    if len(empty) == len(counts):
        raise ValueError(f"no documents in {list(counts)}: the files are empty")
    if empty:
        logging.warning("no documents in %s (empty or blank): they add nothing", empty)
    return sum(counts.values())


def stats_path(config):
    return os.path.join(os.path.dirname(config.output_files[0]) or ".", STATS_FILE)


def _output_patterns(config):
    """Globs of what runs into this place write: each output file and its shards under any -of-N."""
    bases = sorted({_SHARD_SUFFIX.sub("", path) for path in config.output_files})
    return [pattern for base in bases for pattern in (base, f"{base}-?????-of-?????")]


def earlier_outputs(config):
    """The shards (or the unsharded file) of an earlier run here that this run's files would not
    replace; an error unless `config.overwrite`."""
    found = {path for pattern in _output_patterns(config) for path in file_system.glob(pattern)}
    earlier = sorted(found - set(config.output_files))
    if earlier and not config.overwrite:
        raise ValueError(f"--output_file: {earlier} are the output of an earlier run here with another --num_shards; "
                         "a glob of the shards would read them beside the new ones: pass --overwrite to replace "
                         "them once this run is complete, or write elsewhere")
    return earlier


def remove_leftovers(config):
    """Removes what runs killed before completing left aside here."""
    for pattern in (*_output_patterns(config), stats_path(config)):
        for path in leftovers(pattern):
            logging.warning("removing %s, left by a run that did not complete", path)
            discard(path)


def put_in_place(staged, config, earlier):
    """Renames the complete files into place. The stats JSON goes first and comes back last, so a
    stats JSON beside the shards says they are one complete output even if a kill falls among the
    renames (it is not atomic over several files)."""
    stats = stats_path(config)
    if file_system.exists(stats):
        file_system.remove(stats)
    for path in config.output_files:
        file_system.rename(staged[path], path, overwrite=True)
    for path in earlier:
        file_system.remove(path)
    file_system.rename(staged[stats], stats, overwrite=True)


def write_pretraining_data(config):
    """Writes the shards; returns the statistics (also written as JSON next to the shards)."""
    check_config(config)
    earlier = earlier_outputs(config)
    remove_leftovers(config)
    total_documents = check_document_counts({path: count_documents(path) for path in config.input_files})
    stats, start = collections.Counter(), time.time()
    staged = {path: staging_path(path) for path in (*config.output_files, stats_path(config))}
    try:
        written = _write_aside(config, staged, total_documents, stats)
    except BaseException:
        for path in staged.values():
            discard(path)
        raise
    put_in_place(staged, config, earlier)
    # Timing stays out of the JSON, so rebuilding the shards rewrites identical files.
    return {**summarize(stats, config), "instances_per_second": written / (time.time() - start)}


def _write_aside(config, staged, total_documents, stats):
    """Writes the shards and the stats JSON to their `staged` names; returns the instance count."""
    # The corpus is tokenized once, to a temporary file that every pass reads back: tokenizing is
    # as costly as making the instances, and holding the tokens in memory would not scale.
    with contextlib.ExitStack() as stack:
        writers = [stack.enter_context(file_system.open(staged[path], "wb")) for path in config.output_files]
        worker_map = stack.enter_context(_worker_map(config))
        tokenized = stack.enter_context(tempfile.TemporaryFile())
        groups = _tokenize(worker_map, config, total_documents, tokenized, stats)

        def tasks():
            for dupe in range(config.dupe_factor):
                tokenized.seek(0)
                first = 0
                for _ in range(groups):
                    count, group = pickle.load(tokenized)
                    yield config.random_seed, dupe, first, group
                    first += count

        results = worker_map(pretraining_records.make_group_records, tasks(), _chunksize(groups, config))
        written = _write_records(results, writers, stats, total_documents, config)
    shards = len(config.output_files)
    check_shard_counts([written // shards + (i < written % shards) for i in range(shards)], config)
    write_stats(staged[stats_path(config)], stats, config)
    return written


def check_shard_counts(counts, config):
    """An error unless each output file gets an instance (`counts`: instances per file): pretraining
    would fail on an empty shard."""
    written, shards = sum(counts), len(counts)
    if not written:
        raise ValueError(f"no instances from {list(config.input_files)}: every document is too short")
    empty = [path for path, count in zip(config.output_files, counts) if not count]
    if written < shards:
        raise ValueError(f"--num_shards={shards} (or that many --output_file files) is more than the {written} "
                         f"instances made: {empty} would be empty; use at most {written}")
    if empty:
        raise ValueError(f"--num_shards={shards}: {empty} would get none of the {written} instances made, which "
                         "are spread over the shards by a hash of each; use fewer shards")


def write_stats(path, stats, config):
    with file_system.open(path, "w") as f:
        f.write(json.dumps(summarize(stats, config), indent=2, sort_keys=True) + "\n")


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
        "overlong_lines": stats["overlong_lines"],
        "output_files": list(config.output_files),
    }
