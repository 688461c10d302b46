import collections
import functools
import json
import logging
import math
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from albert_tf.data import RECORD_FEATURES
from albert_tf.data import pretraining_records, pretraining_writer
from albert_tf.data.pretraining_dataset import UNUSED_FEATURES
from albert_tf.data.pretraining_instances import (InstanceConfig, document_rng, instances_from_document,
                                                  is_start_piece, mask_tokens)
from albert_tf.data.pretraining_writer import PretrainingDataConfig, write_pretraining_data
from albert_tf.text import FullTokenizer
from tests import worker_probe
from tests.conftest import REPO_ROOT, finished_process_id, run_script

SAMPLE_MODEL = "tfrecords/sample/botchan.model"
SAMPLE_CORPUS = "tfrecords/sample/botchan_corpus.txt"
PAD_ID, CLS_ID, SEP_ID, MASK_ID = 0, 2, 3, 4  # the ALBERT layout


def sample_documents(chapters=3):
    """The first chapters of the sample corpus, as texts of one sentence per line."""
    return open(SAMPLE_CORPUS, encoding="utf-8").read().split("\n\n")[:chapters]


def small_corpus(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text("\n\n".join(sample_documents()) + "\n", encoding="utf-8")
    return str(path)


def write(tmp_path, name, num_workers=1, **instance):
    outputs = tuple(str(tmp_path / name / f"shard-{i}.tfrecord") for i in range(2))
    tf.io.gfile.makedirs(str(tmp_path / name))
    config = PretrainingDataConfig(input_files=(small_corpus(tmp_path),), output_files=outputs,
                                   spm_model_file=SAMPLE_MODEL, dupe_factor=2, num_workers=num_workers,
                                   instance=InstanceConfig(max_seq_length=64, max_predictions_per_seq=10, **instance))
    return write_pretraining_data(config), outputs


def read_records(paths):
    """Every record of the files, as {feature name: tf.train.Feature}."""
    return [dict(tf.train.Example.FromString(record.numpy()).features.feature)
            for path in paths for record in tf.data.TFRecordDataset(path)]


def values(feature):
    return list(getattr(feature, feature.WhichOneof("kind")).value)


def unmasked_ids(record):
    """input_ids with each masked_lm_id put back at its position."""
    ids = values(record["input_ids"])
    for position, label, weight in zip(values(record["masked_lm_positions"]), values(record["masked_lm_ids"]),
                                       values(record["masked_lm_weights"])):
        if weight:
            ids[position] = label
    return ids


def within(share, p, n, standard_errors=4):
    """Whether a share of n independent draws is within some standard errors of probability p."""
    return abs(share - p) <= standard_errors * math.sqrt(p * (1 - p) / n)


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    """The records of the first three chapters: sequences of 64, 10 predictions, dupe factor 2."""
    return read_records(write(tmp_path_factory.mktemp("records"), "out")[1])


def test_every_feature_has_the_original_kind_and_length(records):
    kinds = {(name, feature.WhichOneof("kind"), len(values(feature)))
             for record in records for name, feature in record.items()}

    assert kinds == {("input_ids", "int64_list", 64), ("input_mask", "int64_list", 64),
                     ("segment_ids", "int64_list", 64), ("token_boundary", "int64_list", 64),
                     ("masked_lm_positions", "int64_list", 10), ("masked_lm_ids", "int64_list", 10),
                     ("masked_lm_weights", "float_list", 10), ("next_sentence_labels", "int64_list", 1)}


def test_pretraining_reads_every_feature_written_but_token_boundary(records):
    assert set(records[0]) == set(RECORD_FEATURES) | set(UNUSED_FEATURES)


def test_records_are_cls_a_sep_b_sep_with_segment_ids_and_input_mask_to_match(records):
    def layout(record):
        ids = unmasked_ids(record)
        seps = [i for i, t in enumerate(ids) if t == SEP_ID]
        length = seps[-1] + 1
        padding = [0] * (len(ids) - length)
        return (ids[0], len(seps), ids[length:] == padding,
                values(record["segment_ids"]) == [0] * (seps[0] + 1) + [1] * (length - seps[0] - 1) + padding,
                values(record["input_mask"]) == [1] * length + padding)

    assert {layout(record) for record in records} == {(CLS_ID, 2, True, True, True)}


def test_masked_lm_ids_are_the_ids_before_masking(records):
    # Put back at their positions, they turn A and B into runs of the text's own ids.
    tokenizer = FullTokenizer(SAMPLE_MODEL)
    text = "|".join(" " + " ".join(str(i) for line in document.split("\n")
                                   for i in tokenizer.convert_tokens_to_ids(tokenizer.tokenize(line))) + " "
                    for document in sample_documents())

    def segments(record):
        ids = unmasked_ids(record)
        first, second = [i for i, t in enumerate(ids) if t == SEP_ID]
        return ids[1:first], ids[first + 1:second]

    not_from_the_text = [i for i, record in enumerate(records)
                         if not all(f" {' '.join(map(str, run))} " in text for run in segments(record))]
    assert not_from_the_text == []


def test_token_boundary_is_one_at_special_tokens_and_word_starts():
    pieces_and_boundaries = [
        ("[CLS]", 1),
        ("▁the", 1), ("ir", 0),          # "▁" starts a word; a piece of letters continues it,
        ("▁don", 1), ("'t", 0),          # also with an apostrophe (the original's intent, see _PUNCTUATION)
        ("▁www", 1), (".com", 0),        # or other punctuation;
        ("▁", 1), ("3", 1), ("0", 1),    # digits are words of their own,
        (",", 1), ("€", 1),              # as is punctuation alone
        ("日本", 1), ("x=", 1),          # and a piece with a character outside a-z and that punctuation;
        ("<unk>", 1),                    # "<" starts a word
        ("[SEP]", 1),
    ]
    tokens = [piece for piece, _ in pieces_and_boundaries]

    boundary = mask_tokens(tokens, InstanceConfig(), ["▁x"], random.Random(0))[3]

    assert boundary == [start for _, start in pieces_and_boundaries]


def test_token_boundary_marks_the_word_starts_of_the_pieces_before_masking(records):
    tokenizer = FullTokenizer(SAMPLE_MODEL)

    def word_starts(record):
        pieces = tokenizer.convert_ids_to_tokens(unmasked_ids(record))
        length = sum(values(record["input_mask"]))
        return [int(p in ("[CLS]", "[SEP]") or is_start_piece(p)) for p in pieces[:length]] + [0] * (64 - length)

    assert [values(record["token_boundary"]) for record in records] == [word_starts(r) for r in records]


@pytest.mark.parametrize("masked_lm_prob", [0.2, 0.03])  # min(10, ...) binds for long ones; max(1, ...) for short
def test_predictions_per_sequence_follow_the_original_formula(tmp_path, masked_lm_prob):
    # Single-token words and spans: the formula is then always met. Lengths vary, up to 64.
    _, outputs = write(tmp_path, "out", masked_lm_prob=masked_lm_prob, short_seq_prob=1, ngram=1,
                       do_whole_word_mask=False)
    records = read_records(outputs)
    lengths = [sum(values(record["input_mask"])) for record in records]  # [CLS] and [SEP] included

    assert [int(sum(values(r["masked_lm_weights"]))) for r in records] == \
        [min(10, max(1, round(length * masked_lm_prob))) for length in lengths]


def test_same_seed_gives_identical_bytes_for_any_worker_count(tmp_path):
    _, one = write(tmp_path, "one", num_workers=1)
    _, two = write(tmp_path, "two", num_workers=2)

    assert [open(a, "rb").read() for a in one] == [open(b, "rb").read() for b in two]


def test_worker_processes_import_no_tensorflow(tmp_path):
    config = PretrainingDataConfig(input_files=(SAMPLE_CORPUS,), output_files=(str(tmp_path / "out.tfrecord"),),
                                   spm_model_file=SAMPLE_MODEL, num_workers=2)

    with pretraining_writer._worker_map(config) as worker_map:
        answers = set(worker_map(worker_probe.tensorflow_imported, range(8), 1))

    assert os.getpid() not in {pid for pid, _ in answers}
    assert {imported for _, imported in answers} == {False}


def test_a_worker_killed_from_outside_raises_an_error_instead_of_a_wait_forever(tmp_path):
    config = PretrainingDataConfig(input_files=(SAMPLE_CORPUS,), output_files=(str(tmp_path / "out.tfrecord"),),
                                   spm_model_file=SAMPLE_MODEL, num_workers=2)

    with pytest.raises(ChildProcessError, match="a worker process of the data tool died"):
        with pretraining_writer._worker_map(config) as worker_map:
            list(worker_map(worker_probe.dies_at, range(8), 1))


def imported_modules(stderr):
    """The modules a run imported, from the lines Python writes with PYTHONPROFILEIMPORTTIME."""
    return {line.rsplit("|", 1)[1].strip() for line in stderr.splitlines() if line.startswith("import time:")}


def test_the_tool_and_its_workers_import_no_tensorflow_for_local_files(tmp_path):
    result = run_script("create_pretraining_data.py",
                        *tool_flags(small_corpus(tmp_path), tmp_path / "out.tfrecord", "--num_workers=2"),
                        env={"PYTHONPROFILEIMPORTTIME": "1"})

    assert {"sentencepiece", "albert_tf.data.pretraining_records"} <= imported_modules(result.stderr)
    assert "tensorflow" not in imported_modules(result.stderr)


def test_files_on_a_tensorflow_file_system_get_the_bytes_local_files_get(tmp_path):
    remote = f"ram://pretraining_data_{os.getpid()}"
    for local, name in ((small_corpus(tmp_path), "corpus.txt"), (SAMPLE_MODEL, "botchan.model")):
        tf.io.gfile.copy(local, f"{remote}/{name}")
    outputs = {}
    for place, corpus, model in ((str(tmp_path), small_corpus(tmp_path), SAMPLE_MODEL),
                                 (remote, f"{remote}/corpus.txt", f"{remote}/botchan.model")):
        outputs[place] = (f"{place}/out/shard-0.tfrecord", f"{place}/out/shard-1.tfrecord")
        tf.io.gfile.makedirs(f"{place}/out")
        write_pretraining_data(PretrainingDataConfig(
            input_files=(corpus,), output_files=outputs[place], spm_model_file=model, dupe_factor=2, num_workers=2,
            instance=InstanceConfig(max_seq_length=64, max_predictions_per_seq=10)))

    read = [[tf.io.gfile.GFile(path, "rb").read() for path in paths] for paths in outputs.values()]
    assert read[0] == read[1]


def test_records_are_encoded_as_tf_train_example_serializes_them():
    def reference(ids, segments, boundary, positions, masked_ids, is_random_next, seq, predictions):
        def ints(values, length):
            return tf.train.Feature(int64_list=tf.train.Int64List(value=list(values) + [0] * (length - len(values))))

        features = {
            "input_ids": ints(ids, seq), "input_mask": ints([1] * len(ids), seq),
            "segment_ids": ints(segments, seq), "token_boundary": ints(boundary, seq),
            "masked_lm_positions": ints(positions, predictions), "masked_lm_ids": ints(masked_ids, predictions),
            "masked_lm_weights": tf.train.Feature(float_list=tf.train.FloatList(
                value=[1.0] * len(positions) + [0.0] * (predictions - len(positions)))),
            "next_sentence_labels": ints([int(is_random_next)], 1),
        }
        return tf.train.Example(features=tf.train.Features(feature=features)).SerializeToString(deterministic=True)

    rng = random.Random(0)
    # Vocabulary sizes and lengths whose varints and fields take one, two and three bytes.
    for vocab_size, seq, predictions in ((100, 8, 1), (30000, 128, 20), (70000, 512, 80)):
        encoder = pretraining_records.RecordEncoder(seq, predictions, vocab_size)
        edges = [i for i in (0, 1, 127, 128, 16383, 16384, vocab_size - 1) if i < vocab_size]
        for _ in range(100):
            length = rng.randint(1, seq)
            ids = [rng.choice(edges) if rng.random() < 0.3 else rng.randrange(vocab_size) for _ in range(length)]
            segments = sorted(rng.randint(0, 1) for _ in range(length))
            boundary = [rng.randint(0, 1) for _ in range(length)]
            positions = sorted(rng.sample(range(length), rng.randint(0, min(length, predictions))))
            masked_ids = [rng.randrange(vocab_size) for _ in positions]
            fields = (ids, segments, boundary, positions, masked_ids, rng.random() < 0.5)

            assert encoder.encode(*fields) == reference(*fields, seq, predictions)


def test_masked_fraction_is_the_masked_lm_prob(tmp_path):
    summary, _ = write(tmp_path, "out", masked_lm_prob=0.15)

    # round(len * 0.15) per sequence, never above max_predictions_per_seq = 10 of 64.
    assert 0.13 < summary["masked_fraction"] < 0.16


@pytest.fixture(scope="module")
def small_vocabulary_records(tmp_path_factory):
    """Records made with a 30-piece model (from run/train_tokenizer.py), so that random
    replacements often are special pieces: about 11000 masked tokens, 1000 of them random."""
    directory = tmp_path_factory.mktemp("small_vocabulary")
    rng = random.Random(0)
    words = "the cat sat on a mat and ran far away from home".split()
    corpus = directory / "corpus.txt"
    corpus.write_text("\n\n".join("\n".join(" ".join(rng.choices(words, k=8)) for _ in range(10))
                                  for _ in range(60)) + "\n")
    run_script("train_tokenizer.py", f"--input={corpus}", f"--model_prefix={directory / 'small'}", "--vocab_size=30")
    output = str(directory / "out.tfrecord")
    write_pretraining_data(PretrainingDataConfig(
        input_files=(str(corpus),), output_files=(output,), spm_model_file=str(directory / "small.model"),
        dupe_factor=5, instance=InstanceConfig(max_seq_length=64, max_predictions_per_seq=10)))
    return read_records([output]), 30


def masked_outcomes(records):
    """(input id, original id) at every masked position."""
    return [(values(record["input_ids"])[position], label)
            for record in records
            for position, label, weight in zip(values(record["masked_lm_positions"]),
                                               values(record["masked_lm_ids"]), values(record["masked_lm_weights"]))
            if weight]


def test_masked_tokens_are_80_percent_mask_10_percent_kept_10_percent_random(small_vocabulary_records):
    records, vocab_size = small_vocabulary_records
    outcomes = masked_outcomes(records)
    kinds = collections.Counter("mask" if token == MASK_ID else "kept" if token == label else "random"
                                for token, label in outcomes)

    # A random token is [MASK], or the original, once in vocab_size draws.
    expected = {"mask": 0.8 + 0.1 / vocab_size, "kept": 0.1 + 0.1 / vocab_size,
                "random": 0.1 * (vocab_size - 2) / vocab_size}
    shares = {kind: kinds[kind] / len(outcomes) for kind in expected}
    assert all(within(shares[kind], p, len(outcomes)) for kind, p in expected.items()), shares


def test_random_tokens_come_from_the_whole_vocabulary_special_pieces_included(small_vocabulary_records):
    records, vocab_size = small_vocabulary_records
    randoms = [token for token, label in masked_outcomes(records) if token not in (MASK_ID, label)]

    # Uniform over the vocabulary but [MASK] and the original: 3 of those vocab_size - 2 pieces are
    # <pad>, [CLS] and [SEP], which no text holds.
    special = sum(token in (PAD_ID, CLS_ID, SEP_ID) for token in randoms) / len(randoms)
    assert within(special, 3 / (vocab_size - 2), len(randoms)), special


@pytest.mark.parametrize("favor_shorter_ngram, expected", [(True, [6 / 11, 3 / 11, 2 / 11]),
                                                           (False, [2 / 11, 3 / 11, 6 / 11])])
def test_ngram_lengths_follow_one_over_n_or_its_reverse(favor_shorter_ngram, expected):
    rng = random.Random(0)
    config = InstanceConfig(max_seq_length=4000, max_predictions_per_seq=600, ngram=3,
                            favor_shorter_ngram=favor_shorter_ngram)
    counts = collections.Counter()
    for _ in range(20):
        tokens = ["[CLS]"] + [f"▁w{i}" for i in range(4000)] + ["[SEP]"]
        counts.update(mask_tokens(tokens, config, ["▁x"], rng)[4])

    shares = np.array([counts[n] for n in (1, 2, 3)]) / sum(counts.values())
    # ~4000 spans or more give a standard error under 0.01.
    np.testing.assert_allclose(shares, expected, atol=0.03)


@pytest.mark.parametrize("do_whole_word_mask", [True, False])
def test_the_pieces_of_a_word_are_masked_together_only_with_whole_word_masking(do_whole_word_mask):
    # Words of one to three pieces: "▁w0", "▁w1 a", "▁w2 a b", "▁w3", ...
    words = [[f"▁w{i}"] + ["a", "b"][:i % 3] for i in range(60)]
    tokens = ["[CLS]"] + [piece for word in words for piece in word] + ["[SEP]"]
    spans, start = [], 1
    for word in words:
        spans.append(set(range(start, start + len(word))))
        start += len(word)
    config = InstanceConfig(max_predictions_per_seq=20, do_whole_word_mask=do_whole_word_mask)

    partly_masked = 0
    for seed in range(200):
        masked = set(mask_tokens(tokens, config, ["▁x"], random.Random(seed))[1])
        partly_masked += sum(0 < len(span & masked) < len(span) for span in spans)

    assert (partly_masked > 0) == (not do_whole_word_mask)


@pytest.mark.parametrize("short_seq_prob", [0, 0.1, 1])
def test_a_document_gets_a_shorter_target_length_with_short_seq_prob(short_seq_prob):
    # One-token sentences make a document's first instance exactly its target length (+ 3).
    config = InstanceConfig(max_seq_length=32, max_predictions_per_seq=1, short_seq_prob=short_seq_prob)
    document = [[f"▁t{i}"] for i in range(40)]
    documents = 2000
    first_lengths = [len(instances_from_document(document, config, ["▁x"], document_rng(0, 0, d))[0].tokens)
                     for d in range(documents)]

    # The target is randint(2, 29) with probability short_seq_prob, and 29 is the full length.
    p = short_seq_prob * 27 / 28
    assert within(np.mean([length < 32 for length in first_lengths]), p, documents)


def tagged_documents(count, sentences, tokens_per_sentence):
    """Documents whose tokens say where they come from: "▁d3s4t5" is document 3, sentence 4, token 5."""
    return [[[f"▁d{d}s{s}t{t}" for t in range(tokens_per_sentence)] for s in range(sentences(d))]
            for d in range(count)]


def unmasked_pair(instance):
    tokens = list(instance.tokens)
    for position, label in zip(instance.masked_lm_positions, instance.masked_lm_labels):
        tokens[position] = label
    sep = tokens.index("[SEP]")
    return tokens[1:sep], tokens[sep + 1:-1]


@functools.lru_cache(maxsize=1)
def sentence_order_instances():
    """2500 sentence-order instances: 5 of each of 500 documents."""
    config = InstanceConfig(max_seq_length=40, max_predictions_per_seq=1, masked_lm_prob=0.01, short_seq_prob=0)
    documents = tagged_documents(500, lambda d: 30, 6)
    return [instance for d, document in enumerate(documents)
            for instance in instances_from_document(document, config, ["▁x"], document_rng(0, 0, d))]


def test_swapped_sentence_order_pairs_really_are_swapped():
    instances = sentence_order_instances()

    def place(token):  # (sentence, token) in its document
        return tuple(map(int, re.match(r"▁d\d+s(\d+)t(\d+)", token).groups()))

    def swapped(instance):
        a, b = unmasked_pair(instance)
        return place(a[0]) > place(b[-1])

    assert [instance.is_random_next for instance in instances] == [swapped(instance) for instance in instances]


def test_sentence_order_labels_are_balanced():
    labels = [instance.is_random_next for instance in sentence_order_instances()]

    # Within 4 standard errors of 1/2: 0.04 for 2500 instances.
    assert within(np.mean(labels), 0.5, len(labels)), (np.mean(labels), len(labels))


@functools.lru_cache(maxsize=1)
def next_sentence_instances():
    """Next-sentence instances of 300 documents of 5 to 24 sentences of 4 tokens, 16 tokens a pair:
    whole sentences always fit, so nothing is truncated."""
    config = InstanceConfig(max_seq_length=19, max_predictions_per_seq=1, masked_lm_prob=0.01, short_seq_prob=0,
                            random_next_sentence=True)
    documents = tagged_documents(300, lambda d: 5 + d % 20, 4)
    return documents, [instances_from_document(document, config, ["▁x"], document_rng(0, 0, d),
                                               documents[:d] + documents[d + 1:])
                       for d, document in enumerate(documents)]


def document_of(token):
    return int(re.match(r"▁d(\d+)", token).group(1))


def test_a_random_next_sentence_comes_from_another_document():
    _, instances = next_sentence_instances()
    pairs = [unmasked_pair(instance) for per_document in instances for instance in per_document]

    assert [instance.is_random_next for per_document in instances for instance in per_document] == \
        [document_of(b[0]) != document_of(a[0]) for a, b in pairs]


def test_next_sentence_labels_are_balanced():
    _, instances = next_sentence_instances()
    labels = [instance.is_random_next for per_document in instances for instance in per_document]

    # A fair coin per chunk, but a random B puts sentences back and so makes more chunks: the share
    # of ~1650 instances varies a little more than a binomial one; 5 binomial standard errors, 0.06.
    assert within(np.mean(labels), 0.5, len(labels), standard_errors=5), (np.mean(labels), len(labels))


def test_sentences_a_random_next_sentence_displaced_start_the_next_pair():
    # As in the original: every sentence of a document is in one of its instances, once, in order.
    documents, instances = next_sentence_instances()

    def own_tokens(per_document):
        tokens = []
        for instance in per_document:
            a, b = unmasked_pair(instance)
            tokens += a if instance.is_random_next else a + b
        return tokens

    assert [own_tokens(per_document) for per_document in instances] == \
        [[t for sentence in document for t in sentence] for document in documents]


def test_stats_json_next_to_the_shards_describes_them(tmp_path):
    _, outputs = write(tmp_path, "out", do_whole_word_mask=False)
    records = read_records(outputs)
    tokens = sum(sum(values(r["input_mask"])) for r in records)
    masked = sum(sum(values(r["masked_lm_weights"])) for r in records)
    tokenizer = FullTokenizer(SAMPLE_MODEL)
    overlong = sum(len(tokenizer.tokenize(line)) > 64 - 3 for text in sample_documents() for line in text.split("\n"))

    stats = json.loads((tmp_path / "out" / "pretraining_data_stats.json").read_text())
    spans = stats.pop("ngram_span_counts")

    # Without whole-word masking, a span of n words is n tokens.
    assert (stats, sum(int(n) * count for n, count in spans.items())) == ({
        "instances": len(records), "documents_per_pass": 3, "tokens": tokens, "mean_length": tokens / len(records),
        "masked_fraction": masked / tokens,
        "sentence_order_swapped_fraction": sum(values(r["next_sentence_labels"])[0] for r in records) / len(records),
        "overlong_lines": overlong, "output_files": list(outputs)}, masked)


def test_each_pass_logs_its_progress(tmp_path, absl_log, monkeypatch):
    monkeypatch.setattr(pretraining_writer, "PROGRESS_SECONDS", 0)
    absl_log.set_level(logging.INFO)

    write(tmp_path, "out")

    assert re.search(r"tokenizing: 3/3 documents, \d+ documents/s, ETA \d+s", absl_log.text) and \
        re.search(r"making instances: 6/6 documents, \d+ documents/s, \d+ instances, \d+ instances/s, ETA", absl_log.text)


def test_empty_input_is_an_error(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n")
    config = PretrainingDataConfig(input_files=(str(empty),), output_files=(str(tmp_path / "out.tfrecord"),),
                                   spm_model_file=SAMPLE_MODEL)

    with pytest.raises(ValueError, match=r"no documents in .*empty\.txt"):
        write_pretraining_data(config)


def test_an_empty_file_among_others_is_named_in_a_warning(tmp_path, absl_log):
    empty = tmp_path / "empty.txt"
    empty.write_text("\n")
    config = PretrainingDataConfig(input_files=(small_corpus(tmp_path), str(empty)),
                                   output_files=(str(tmp_path / "out.tfrecord"),), spm_model_file=SAMPLE_MODEL,
                                   dupe_factor=1,  # no line of these chapters is longer than 128 - 3 pieces
                                   instance=InstanceConfig(max_seq_length=128, max_predictions_per_seq=20))

    write_pretraining_data(config)

    assert [r.getMessage() for r in absl_log.records if r.levelno == logging.WARNING] == \
        [f"no documents in ['{empty}'] (empty or blank): they add nothing"]


def short_document_config(tmp_path, shards, overwrite=False):
    """A two-sentence document, dupe factor 2 (a few instances), into `shards` files of out/."""
    corpus = tmp_path / "short.txt"
    corpus.write_text("the first sentence of a short document.\nits second and last sentence.\n")
    (tmp_path / "out").mkdir(exist_ok=True)
    outputs = tuple(str(tmp_path / "out" / f"pretraining.tfrecord-{i:05d}-of-{shards:05d}") for i in range(shards))
    return PretrainingDataConfig(input_files=(str(corpus),), output_files=outputs, spm_model_file=SAMPLE_MODEL,
                                 dupe_factor=2, overwrite=overwrite)


def long_line_corpus(tmp_path):
    """A document whose lines 2 and 4 hold 300 words each (no newline inside), more than 64 - 3 pieces."""
    corpus = tmp_path / "long_lines.txt"
    long_line = " ".join(["the school"] * 150)
    corpus.write_text(f"a short first line.\n{long_line}\na short third line.\n{long_line}\na short fifth line.\n")
    return str(corpus)


def long_line_config(tmp_path):
    return PretrainingDataConfig(input_files=(long_line_corpus(tmp_path),),
                                 output_files=(str(tmp_path / "out.tfrecord"),), spm_model_file=SAMPLE_MODEL,
                                 dupe_factor=1, instance=InstanceConfig(max_seq_length=64, max_predictions_per_seq=10))


def test_lines_longer_than_an_instance_are_named_in_one_warning_per_file(tmp_path, absl_log):
    write_pretraining_data(long_line_config(tmp_path))

    assert [r.getMessage() for r in absl_log.records if r.levelno == logging.WARNING] == [
        f"{tmp_path}/long_lines.txt:2: 2 line(s) of more than --max_seq_length - 3 = 61 pieces, the first here: an "
        "instance holds at most 61 pieces of a line and drops the rest; put one sentence per line"]


def test_lines_longer_than_an_instance_are_counted_in_the_stats_json(tmp_path):
    write_pretraining_data(long_line_config(tmp_path))

    assert json.loads((tmp_path / "pretraining_data_stats.json").read_text())["overlong_lines"] == 2


def test_more_shards_than_instances_is_an_error_naming_num_shards_the_count_and_the_empty_ones(tmp_path):
    config = short_document_config(tmp_path, shards=8)

    with pytest.raises(ValueError, match=r"^--num_shards=8 .* more than the \d instances made: "
                                         r"\[.*-00007-of-00008'\] would be empty; use at most \d$"):
        write_pretraining_data(config)


def test_more_shards_than_instances_puts_no_file_in_place(tmp_path):
    config = short_document_config(tmp_path, shards=8)

    with pytest.raises(ValueError):
        write_pretraining_data(config)

    assert os.listdir(tmp_path / "out") == []


def write_earlier_shards(tmp_path, shards):
    """Stand-ins for the complete output of an earlier run into out/ with --num_shards=`shards`."""
    (tmp_path / "out").mkdir()
    names = [f"pretraining.tfrecord-{i:05d}-of-{shards:05d}" for i in range(shards)] + ["pretraining_data_stats.json"]
    for name in names:
        (tmp_path / "out" / name).write_text(f"earlier {name}")
    return {name: f"earlier {name}" for name in names}


def listing(folder):
    return {path.name: path.read_bytes().decode(errors="replace") for path in sorted(folder.iterdir())}


TWO_NEW_SHARDS_AND_STATS = ["pretraining.tfrecord-00000-of-00002", "pretraining.tfrecord-00001-of-00002",
                            "pretraining_data_stats.json"]


def test_shards_of_an_earlier_run_under_another_shard_count_are_an_error_naming_them(tmp_path):
    write_earlier_shards(tmp_path, shards=4)
    config = short_document_config(tmp_path, shards=2)

    with pytest.raises(ValueError, match=r"^--output_file: \[.*-00002-of-00004', .*-00003-of-00004'\] are the output "
                                         r"of an earlier run here with another --num_shards; .* pass --overwrite"):
        write_pretraining_data(config)


def test_with_overwrite_the_shards_of_an_earlier_run_give_way_to_the_new_ones(tmp_path):
    write_earlier_shards(tmp_path, shards=4)

    write_pretraining_data(short_document_config(tmp_path, shards=2, overwrite=True))

    assert sorted(os.listdir(tmp_path / "out")) == TWO_NEW_SHARDS_AND_STATS


def test_a_run_with_overwrite_that_fails_leaves_the_earlier_output_as_it_was(tmp_path):
    earlier = write_earlier_shards(tmp_path, shards=4)

    with pytest.raises(ValueError, match="--num_shards=8"):
        write_pretraining_data(short_document_config(tmp_path, shards=8, overwrite=True))

    assert listing(tmp_path / "out") == earlier


def test_the_next_run_removes_what_a_killed_run_left_aside_but_not_a_running_ones(tmp_path, absl_log):
    earlier = write_earlier_shards(tmp_path, shards=2)
    killed, running = (f"{socket.gethostname()}-{pid}-{'0' * 32}" for pid in (finished_process_id(), os.getpid()))
    left = [f".pretraining.tfrecord-00001-of-00002.incomplete-{killed}",
            f".pretraining.tfrecord-00003-of-00004.incomplete-{killed}",  # of a killed run with --num_shards=4
            f".pretraining_data_stats.json.incomplete-{killed}"]
    in_progress = f".pretraining.tfrecord-00000-of-00002.incomplete-{running}"
    for name in (*left, in_progress):
        (tmp_path / "out" / name).write_bytes(b"cut mid-rec")

    write_pretraining_data(short_document_config(tmp_path, shards=2))

    removed = re.findall(r"removing \S+/(\S+), left by a run that did not complete", absl_log.text)
    assert (sorted(os.listdir(tmp_path / "out")), sorted(removed)) == (sorted([*earlier, in_progress]), sorted(left))


def tool_flags(corpus, output_file, *flags):
    """The script's flags for the small corpus: sequences of 64, 10 predictions, one worker."""
    return [f"--input_file={corpus}", f"--output_file={output_file}", f"--spm_model_file={SAMPLE_MODEL}",
            "--max_seq_length=64", "--max_predictions_per_seq=10", "--num_workers=1", *flags]


def test_script_with_overwrite_replaces_the_shards_of_an_earlier_run(tmp_path):
    write_earlier_shards(tmp_path, shards=4)

    run_script("create_pretraining_data.py",
               *tool_flags(small_corpus(tmp_path), tmp_path / "out" / "pretraining.tfrecord", "--num_shards=2",
                           "--dupe_factor=1", "--overwrite"))

    assert sorted(os.listdir(tmp_path / "out")) == TWO_NEW_SHARDS_AND_STATS


def kill_when_a_shard_is_half_written(flags, folder, timeout=120):
    """Runs the script; kills it (SIGKILL, its workers too) once bytes of a shard being written
    reach the disk. Returns its exit status: -SIGKILL when it was killed mid-run."""
    process = subprocess.Popen([sys.executable, os.path.join(REPO_ROOT, "run", "create_pretraining_data.py"), *flags],
                               env=dict(os.environ, PYTHONPATH=REPO_ROOT), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + timeout
    while process.poll() is None and time.time() < deadline:
        if any(path.stat().st_size for path in folder.glob(".pretraining.tfrecord-*.incomplete-*")):
            os.killpg(process.pid, signal.SIGKILL)
            break
        time.sleep(0.01)
    return process.wait()


@pytest.mark.slow
def test_a_killed_run_leaves_the_earlier_output_whole_and_a_rerun_makes_it_byte_for_byte(tmp_path):
    # The same flags three times: complete, killed, again. Dupe factor 20 writes for about 2 seconds.
    out = tmp_path / "out"
    flags = tool_flags(small_corpus(tmp_path), out / "pretraining.tfrecord", "--num_shards=2", "--dupe_factor=20")
    run_script("create_pretraining_data.py", *flags)
    complete = listing(out)

    exit_status = kill_when_a_shard_is_half_written(flags, out)
    after_kill = {name: text for name, text in listing(out).items() if not name.startswith(".")}
    run_script("create_pretraining_data.py", *flags)

    assert (exit_status, after_kill, listing(out)) == (-signal.SIGKILL, complete, complete)


def test_non_utf8_input_names_file_and_line(tmp_path):
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("first line\ncaf\xe9 au lait\n".encode("latin-1"))
    config = PretrainingDataConfig(input_files=(str(latin1),), output_files=(str(tmp_path / "out.tfrecord"),),
                                   spm_model_file=SAMPLE_MODEL)

    with pytest.raises(ValueError, match=r"latin1\.txt:2: not UTF-8"):
        write_pretraining_data(config)


def test_script_rebuilds_the_committed_sample_shards_byte_for_byte(tmp_path):
    run_script("create_pretraining_data.py", "--flagfile=run/flags/sample_data.flags",
               f"--output_file={tmp_path}/pretraining.tfrecord", "--num_workers=2")

    for i in range(4):
        name = f"pretraining.tfrecord-{i:05d}-of-00004"
        assert (tmp_path / name).read_bytes() == open(f"tfrecords/sample/{name}", "rb").read()


def test_an_input_file_of_a_list_that_matches_nothing_is_an_error_naming_it(tmp_path):
    result = run_script("create_pretraining_data.py", f"--input_file={SAMPLE_CORPUS},{tmp_path}/missing.txt",
                        f"--output_file={tmp_path}/out.tfrecord", f"--spm_model_file={SAMPLE_MODEL}",
                        expect_failure=True)

    assert f"--input_file: {tmp_path}/missing.txt matches no file" in result.stderr


def test_too_few_predictions_for_masked_lm_prob_is_reported(tmp_path, absl_log):
    summary, _ = write(tmp_path, "out", masked_lm_prob=0.5)

    assert "caps masking below --masked_lm_prob=0.5" in absl_log.text
    assert summary["masked_fraction"] <= 10 / summary["mean_length"] < 0.5
