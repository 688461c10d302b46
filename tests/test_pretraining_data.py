import collections
import random

import numpy as np
import pytest
import tensorflow as tf

from albert_tf.data import RECORD_FEATURES
from albert_tf.data.pretraining_instances import InstanceConfig, instances_from_document, mask_tokens
from albert_tf.data.pretraining_writer import PretrainingDataConfig, write_pretraining_data
from tests.conftest import run_script

SAMPLE_MODEL = "tfrecords/sample/botchan.model"
SAMPLE_CORPUS = "tfrecords/sample/botchan_corpus.txt"


def small_corpus(tmp_path, chapters=3):
    """The first chapters of the sample corpus."""
    documents = open(SAMPLE_CORPUS, encoding="utf-8").read().split("\n\n")[:chapters]
    path = tmp_path / "corpus.txt"
    path.write_text("\n\n".join(documents) + "\n", encoding="utf-8")
    return str(path)


def write(tmp_path, name, num_workers=1, **instance):
    outputs = tuple(str(tmp_path / name / f"shard-{i}.tfrecord") for i in range(2))
    tf.io.gfile.makedirs(str(tmp_path / name))
    config = PretrainingDataConfig(input_files=(small_corpus(tmp_path),), output_files=outputs,
                                   spm_model_file=SAMPLE_MODEL, dupe_factor=2, num_workers=num_workers,
                                   instance=InstanceConfig(max_seq_length=64, max_predictions_per_seq=10, **instance))
    return write_pretraining_data(config), outputs


def test_records_have_the_original_schema(tmp_path):
    _, outputs = write(tmp_path, "out")

    example = tf.train.Example.FromString(next(iter(tf.data.TFRecordDataset(outputs[0]))).numpy()).features.feature

    lengths = {name: len(example[name].float_list.value or example[name].int64_list.value) for name in example}
    assert lengths == {"input_ids": 64, "input_mask": 64, "segment_ids": 64, "token_boundary": 64,
                       "masked_lm_positions": 10, "masked_lm_ids": 10, "masked_lm_weights": 10,
                       "next_sentence_labels": 1}
    assert set(RECORD_FEATURES) <= set(example)


def test_same_seed_gives_identical_bytes_for_any_worker_count(tmp_path):
    _, one = write(tmp_path, "one", num_workers=1)
    _, two = write(tmp_path, "two", num_workers=2)

    assert [open(a, "rb").read() for a in one] == [open(b, "rb").read() for b in two]


def test_masked_fraction_is_the_masked_lm_prob(tmp_path):
    summary, _ = write(tmp_path, "out", masked_lm_prob=0.15)

    # round(len * 0.15) per sequence, never above max_predictions_per_seq = 10 of 64.
    assert 0.13 < summary["masked_fraction"] < 0.16


def test_ngram_lengths_follow_one_over_n():
    rng = random.Random(0)
    config = InstanceConfig(max_seq_length=4000, max_predictions_per_seq=600, ngram=3)
    counts = collections.Counter()
    for _ in range(20):
        tokens = ["[CLS]"] + [f"▁w{i}" for i in range(4000)] + ["[SEP]"]
        counts.update(mask_tokens(tokens, config, ["▁x"], rng)[4])

    shares = np.array([counts[n] for n in (1, 2, 3)]) / sum(counts.values())
    # p(n) ∝ 1/n = [6/11, 3/11, 2/11]; ~4000 spans give a standard error under 0.01.
    np.testing.assert_allclose(shares, [6 / 11, 3 / 11, 2 / 11], atol=0.03)


def test_sentence_order_labels_are_balanced_and_swapped_pairs_really_are_swapped():
    rng = random.Random(1)
    config = InstanceConfig(max_seq_length=40, max_predictions_per_seq=1, masked_lm_prob=0.01, short_seq_prob=0)
    document = [[f"▁s{s}t{t}" for t in range(6)] for s in range(300)]
    order = {token: i for i, token in enumerate(t for sentence in document for t in sentence)}
    labels = []
    for instance in instances_from_document(document, config, ["▁x"], rng):
        tokens = list(instance.tokens)
        for position, label in zip(instance.masked_lm_positions, instance.masked_lm_labels):
            tokens[position] = label
        sep = tokens.index("[SEP]")
        a, b = tokens[1:sep], tokens[sep + 1:-1]
        swapped = order[a[0]] > order[b[-1]]
        assert swapped == instance.is_random_next
        labels.append(instance.is_random_next)

    assert 0.4 < np.mean(labels) < 0.6


def test_empty_input_is_an_error(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n")
    config = PretrainingDataConfig(input_files=(str(empty),), output_files=(str(tmp_path / "out.tfrecord"),),
                                   spm_model_file=SAMPLE_MODEL)

    with pytest.raises(ValueError, match=r"no documents in .*empty\.txt"):
        write_pretraining_data(config)


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


def test_input_glob_matching_nothing_names_the_flag(tmp_path):
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "run/create_pretraining_data.py", f"--input_file={tmp_path}/none-*.txt",
                             f"--output_file={tmp_path}/out.tfrecord", f"--spm_model_file={SAMPLE_MODEL}"],
                            capture_output=True, text=True, env={"PYTHONPATH": ".", "PATH": ""})

    assert result.returncode != 0 and "--input_file=" in result.stderr and "matches no file" in result.stderr


def test_too_few_predictions_for_masked_lm_prob_is_reported(tmp_path, caplog):
    summary, _ = write(tmp_path, "out", masked_lm_prob=0.5)

    assert "caps masking below --masked_lm_prob=0.5" in caplog.text
    assert summary["masked_fraction"] <= 10 / summary["mean_length"] < 0.5
