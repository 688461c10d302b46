"""The data tool as an Apache Beam pipeline (DirectRunner) makes what the local tool makes."""

import collections
import json
import os
import re

import pytest
import tensorflow as tf
from apache_beam.options.pipeline_options import PipelineOptions

from albert_tf.data import pretraining_beam
from albert_tf.data.pretraining_instances import DOCUMENT_GROUP, InstanceConfig
from albert_tf.data.pretraining_writer import PretrainingDataConfig, write_pretraining_data
from tests.conftest import run_script
from tests.test_pretraining_data import SAMPLE_CORPUS, SAMPLE_MODEL

DIRECT = PipelineOptions(["--runner=DirectRunner"])


def two_file_corpus(folder):
    """The sample corpus cut into documents of 20 lines, 100 in one file and the rest in another: groups
    of DOCUMENT_GROUP documents that span both files, and a last group that is not full."""
    lines = [line for line in open(SAMPLE_CORPUS, encoding="utf-8").read().splitlines() if line]
    documents = ["\n".join(lines[i:i + 20]) for i in range(0, len(lines), 20)]
    assert 2 * DOCUMENT_GROUP < len(documents) < 3 * DOCUMENT_GROUP
    paths = (folder / "corpus-a.txt", folder / "corpus-b.txt")
    paths[0].write_text("\n\n".join(documents[:100]) + "\n", encoding="utf-8")
    paths[1].write_text("\n\n".join(documents[100:]) + "\n", encoding="utf-8")
    return tuple(map(str, paths))


def config(input_files, folder, shards=2, random_next_sentence=False, dupe_factor=2):
    folder.mkdir(exist_ok=True)
    outputs = tuple(str(folder / f"pretraining.tfrecord-{i:05d}-of-{shards:05d}") for i in range(shards))
    return PretrainingDataConfig(input_files=input_files, output_files=outputs, spm_model_file=SAMPLE_MODEL,
                                 dupe_factor=dupe_factor, num_workers=1,
                                 instance=InstanceConfig(max_seq_length=64, max_predictions_per_seq=10,
                                                         random_next_sentence=random_next_sentence))


def records(paths):
    return collections.Counter(record.numpy() for path in paths for record in tf.data.TFRecordDataset(path))


def stats_json(config):
    return json.loads(open(os.path.join(os.path.dirname(config.output_files[0]), "pretraining_data_stats.json")).read())


@pytest.fixture(scope="module", params=[False, True], ids=["sentence_order", "random_next_sentence"])
def both_tools(request, tmp_path_factory):
    """(local config, Beam config): the same flags into local/ and beam/. Random next sentences come
    from other documents of a group: they check that Beam groups documents as the local tool does."""
    folder = tmp_path_factory.mktemp("both")
    corpus = two_file_corpus(folder)
    local = config(corpus, folder / "local", random_next_sentence=request.param)
    beam = config(corpus, folder / "beam", random_next_sentence=request.param)
    write_pretraining_data(local)
    pretraining_beam.write_pretraining_data(beam, DIRECT)
    return local, beam


def test_direct_runner_makes_the_local_tools_records(both_tools):
    local, beam = both_tools

    assert records(beam.output_files) == records(local.output_files)


def test_direct_runner_writes_the_local_tools_stats_json_but_its_paths(both_tools):
    local, beam = both_tools

    assert stats_json(beam) == {**stats_json(local), "output_files": list(beam.output_files)}


def test_direct_runner_leaves_the_shards_and_the_stats_json_only(both_tools):
    _, beam = both_tools

    assert sorted(os.listdir(os.path.dirname(beam.output_files[0]))) == [
        "pretraining.tfrecord-00000-of-00002", "pretraining.tfrecord-00001-of-00002", "pretraining_data_stats.json"]


def test_a_non_utf8_file_fails_with_the_local_tools_error(tmp_path):
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("first line\ncaf\xe9 au lait\n".encode("latin-1"))
    with pytest.raises(ValueError) as local_error:
        write_pretraining_data(config((str(latin1),), tmp_path / "local"))

    with pytest.raises(ValueError, match=re.escape(str(local_error.value))):
        pretraining_beam.write_pretraining_data(config((str(latin1),), tmp_path / "beam"), DIRECT)


def shards_elided(error):
    """The message with its lists of shards elided: which shards would stay empty differs."""
    return re.sub(r"\[.*?\]", "[shards]", str(error.value))


def test_more_shards_than_instances_is_the_local_tools_error_and_puts_no_file_in_place(tmp_path):
    short = tmp_path / "short.txt"
    short.write_text("the first sentence of a short document.\nits second and last sentence.\n")
    local, beam = (config((str(short),), tmp_path / name, shards=8) for name in ("local", "beam"))
    with pytest.raises(ValueError) as local_error:
        write_pretraining_data(local)

    with pytest.raises(ValueError) as beam_error:
        pretraining_beam.write_pretraining_data(beam, DIRECT)

    assert (shards_elided(beam_error).startswith(shards_elided(local_error)), os.listdir(tmp_path / "beam")) == \
        (True, [])


def test_with_shuffle_two_runs_with_other_workers_write_the_same_shards(tmp_path):
    corpus = two_file_corpus(tmp_path)
    runs = {"one": DIRECT, "two_threads": PipelineOptions(["--runner=DirectRunner", "--direct_num_workers=2",
                                                           "--direct_running_mode=multi_threading"])}
    shards = {}
    for name, options in runs.items():
        run_config = config(corpus, tmp_path / name, dupe_factor=1)
        pretraining_beam.write_pretraining_data(run_config, options, shuffle=True)
        shards[name] = [open(path, "rb").read() for path in run_config.output_files]

    assert shards["one"] == shards["two_threads"]


def test_script_with_runner_passes_beams_options_through_and_makes_the_local_tools_records(tmp_path):
    corpus = two_file_corpus(tmp_path)
    local = config(corpus, tmp_path / "local", dupe_factor=1)
    write_pretraining_data(local)

    run_script("create_pretraining_data.py", f"--input_file={corpus[0]},{corpus[1]}",
               f"--spm_model_file={SAMPLE_MODEL}", "--max_seq_length=64", "--max_predictions_per_seq=10", "--dupe_factor=1", "--num_shards=2",
               f"--output_file={tmp_path}/beam/pretraining.tfrecord", "--runner=DirectRunner",
               "--direct_num_workers=2", "--direct_running_mode=multi_threading")

    assert records(tf.io.gfile.glob(f"{tmp_path}/beam/pretraining.tfrecord-*")) == records(local.output_files)


def test_script_with_runner_refuses_a_flag_that_is_neither_its_own_nor_beams(tmp_path):
    result = run_script("create_pretraining_data.py", f"--input_file={SAMPLE_CORPUS}",
                        f"--spm_model_file={SAMPLE_MODEL}",
                        f"--output_file={tmp_path}/out.tfrecord", "--runner=DirectRunner", "--direct_num_workrs=2",
                        expect_failure=True)

    assert "['--direct_num_workrs=2']: flags of neither this tool nor Beam's pipeline options" in result.stderr


def test_shuffle_without_runner_is_an_error(tmp_path):
    result = run_script("create_pretraining_data.py", f"--input_file={SAMPLE_CORPUS}",
                        f"--spm_model_file={SAMPLE_MODEL}",
                        f"--output_file={tmp_path}/out.tfrecord", "--shuffle", expect_failure=True)

    assert "--shuffle needs --runner" in result.stderr
