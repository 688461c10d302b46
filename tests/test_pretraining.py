import dataclasses
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from albert_tf import AlbertConfig, AlbertPretrainer, CheckpointMismatchError
from albert_tf.checkpoint import save_native_checkpoint
from albert_tf.checkpoint.names import original_variable_map
from albert_tf.output_lock import LOCK_FILE, OutputLock
from albert_tf.training.pretraining import Pretraining, PretrainingConfig, run_pretraining
from tests import numpy_albert
from tests.conftest import (REPO_ROOT, run_script, two_cpu_mirrored_strategy, write_pretraining_records,
                            write_tf1_checkpoint)

SEQ, PREDICTIONS, VOCAB = 16, 3, 64
TINY = AlbertConfig(vocab_size=VOCAB, embedding_size=8, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                    intermediate_size=32, max_position_embeddings=32)

# Float sums over replicas or micro-batches run in another order than on one device.
REPLICA_ATOL = 1e-5


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    """Read-only training data, shared by the module's tests."""
    folder = tmp_path_factory.mktemp("shards")
    return [write_pretraining_records(folder / f"shard-{i}.tfrecord", 64, SEQ, PREDICTIONS, VOCAB, seed=i)
            for i in range(3)]


def job(tmp_path, shards, **overrides):
    fields = dict(input_files=tuple(shards), output_dir=str(tmp_path / "out"), max_seq_length=SEQ,
                  max_predictions_per_seq=PREDICTIONS, train_batch_size=8, eval_batch_size=8, learning_rate=1e-3,
                  num_train_steps=3, num_warmup_steps=1, save_checkpoints_steps=100, steps_per_loop=3)
    fields.update(overrides)
    return PretrainingConfig(**fields)


def train_step_by_step(strategy, config):
    """(the [mlm, sop] loss of each optimizer step, the weights after the last one)."""
    pretraining = Pretraining(strategy, TINY, config)
    step_losses = [pretraining.train_loop(tf.constant(1)).numpy() for _ in range(config.num_train_steps)]
    return np.array(step_losses), pretraining.model.get_weights()


@pytest.fixture(scope="module")
def one_device_run(shards, tmp_path_factory):
    return train_step_by_step(tf.distribute.OneDeviceStrategy("/cpu:0"), job(tmp_path_factory.mktemp("one"), shards))


@pytest.fixture(scope="module")
def two_replica_run(shards, tmp_path_factory):
    return train_step_by_step(two_cpu_mirrored_strategy(),
                              job(tmp_path_factory.mktemp("two"), shards))


@pytest.fixture(scope="module")
def accumulated_run(shards, tmp_path_factory):
    return train_step_by_step(tf.distribute.OneDeviceStrategy("/cpu:0"),
                              job(tmp_path_factory.mktemp("acc"), shards, gradient_accumulation_steps=2))


def test_two_replicas_report_the_losses_of_one_device(one_device_run, two_replica_run):
    np.testing.assert_allclose(two_replica_run[0], one_device_run[0], atol=REPLICA_ATOL)


def test_two_replicas_end_with_the_weights_of_one_device(one_device_run, two_replica_run):
    for ours, reference in zip(two_replica_run[1], one_device_run[1]):
        np.testing.assert_allclose(ours, reference, atol=REPLICA_ATOL)


def test_accumulated_micro_batches_report_the_losses_of_the_whole_batch(one_device_run, accumulated_run):
    np.testing.assert_allclose(accumulated_run[0], one_device_run[0], atol=REPLICA_ATOL)


def test_accumulated_micro_batches_end_with_the_weights_of_the_whole_batch(one_device_run, accumulated_run):
    for ours, reference in zip(accumulated_run[1], one_device_run[1]):
        np.testing.assert_allclose(ours, reference, atol=REPLICA_ATOL)


@pytest.mark.slow
@pytest.mark.parametrize("overrides", [{"jit_compile": True}, {"mixed_precision": "mixed_bfloat16"},
                                       {"mixed_precision": "mixed_float16"}],
                         ids=["xla", "mixed_bfloat16", "mixed_float16"])
def test_training_variants_learn(tmp_path, shards, overrides):
    # Random records: there is nothing to generalize, so the loss that must fall is on the training files.
    config = job(tmp_path, shards, num_train_steps=20, steps_per_loop=10, learning_rate=5e-3,
                 eval_input_files=tuple(shards), **overrides)
    strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
    before = run_pretraining(strategy, TINY, dataclasses.replace(config, do_train=False, do_eval=True))

    after = run_pretraining(strategy, TINY, dataclasses.replace(config, do_eval=True))

    assert after["loss"] < before["loss"]


def test_eval_results_are_written_in_the_original_format(tmp_path, shards):
    config = job(tmp_path, shards, do_eval=True, max_eval_steps=2)

    run_pretraining(tf.distribute.OneDeviceStrategy("/cpu:0"), TINY, config)

    lines = (tmp_path / "out" / "eval_results.txt").read_text().splitlines()
    assert [line.split(" = ")[0] for line in lines] == ["global_step", "loss", "masked_lm_accuracy", "masked_lm_loss",
                                                       "sentence_order_accuracy", "sentence_order_loss"]
    assert lines[0] == "global_step = 3"


def test_best_checkpoint_has_the_original_names(tmp_path, shards):
    run_pretraining(tf.distribute.OneDeviceStrategy("/cpu:0"), TINY, job(tmp_path, shards, do_eval=True))

    names = tf.train.load_checkpoint(str(tmp_path / "out" / "model.ckpt-best")).get_variable_to_shape_map()

    assert "bert/embeddings/word_embeddings" in names and "cls/predictions/output_bias" in names


def checkpoint_steps(folder):
    return sorted(int(path.name[len("ckpt-"):-len(".index")]) for path in Path(folder).glob("ckpt-*.index"))


@pytest.mark.parametrize("keep, kept", [(2, [3, 4]), (0, [1, 2, 3, 4])], ids=["two", "zero_keeps_all"])
def test_keep_checkpoint_max_prunes_old_checkpoints_and_zero_keeps_all(tmp_path, shards, keep, kept):
    config = job(tmp_path, shards, num_train_steps=4, steps_per_loop=1, save_checkpoints_steps=1,
                 keep_checkpoint_max=keep)

    run_pretraining(tf.distribute.OneDeviceStrategy("/cpu:0"), TINY, config)

    assert checkpoint_steps(tmp_path / "out") == kept


def test_without_eval_files_the_last_training_file_is_held_out_for_evaluation(tmp_path, shards):
    pretraining = Pretraining(tf.distribute.OneDeviceStrategy("/cpu:0"), TINY, job(tmp_path, shards, do_eval=True))

    assert (pretraining.train_files, pretraining.eval_files) == (sorted(shards)[:-1], sorted(shards)[-1:])


def test_a_single_training_file_is_also_the_evaluation_file_as_in_the_original(tmp_path, shards):
    pretraining = Pretraining(tf.distribute.OneDeviceStrategy("/cpu:0"), TINY, job(tmp_path, shards[:1], do_eval=True))

    assert (pretraining.train_files, pretraining.eval_files) == ([shards[0]], [shards[0]])


def test_named_eval_files_leave_every_training_file_to_training(tmp_path, shards):
    config = job(tmp_path, shards[:2], do_eval=True, eval_input_files=(shards[2],))

    pretraining = Pretraining(tf.distribute.OneDeviceStrategy("/cpu:0"), TINY, config)

    assert (pretraining.train_files, pretraining.eval_files) == (sorted(shards[:2]), [shards[2]])


def test_resuming_with_another_model_names_the_output_dir(tmp_path, shards):
    run_pretraining(tf.distribute.OneDeviceStrategy("/cpu:0"), TINY, job(tmp_path, shards))
    wider = dataclasses.replace(TINY, hidden_size=32)

    with pytest.raises(ValueError, match=r"--output_dir=\S*out holds \S*ckpt-3, which this job cannot resume"):
        Pretraining(tf.distribute.OneDeviceStrategy("/cpu:0"), wider, job(tmp_path, shards))


def scalar_events(folder):
    """{tag: {step: value}} from the TensorBoard event files in `folder`."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(folder), size_guidance={"tensors": 0})
    events.Reload()
    return {tag: {event.step: float(tf.make_ndarray(event.tensor_proto)) for event in events.Tensors(tag)}
            for tag in events.Tags()["tensors"]}


@pytest.fixture(scope="module")
def evaluated_run(shards, tmp_path_factory):
    """A run that checkpoints and evaluates after every step, keeping all checkpoints."""
    output = tmp_path_factory.mktemp("evaluated")
    config = job(output, shards, do_eval=True, num_train_steps=5, steps_per_loop=1, save_checkpoints_steps=1,
                 keep_checkpoint_max=0, learning_rate=1e-2, max_eval_steps=4)
    run_pretraining(tf.distribute.OneDeviceStrategy("/cpu:0"), TINY, config)
    return output / "out"


def test_training_summaries_hold_every_loops_losses_learning_rate_and_speed(evaluated_run):
    train = scalar_events(evaluated_run / "train")

    assert {tag: sorted(steps) for tag, steps in train.items()} == {
        tag: [1, 2, 3, 4, 5] for tag in ("loss", "masked_lm_loss", "sentence_order_loss", "learning_rate",
                                         "examples_per_second")}


def test_best_checkpoint_is_the_evaluation_with_the_highest_masked_lm_accuracy(evaluated_run):
    accuracy = scalar_events(evaluated_run / "eval")["masked_lm_accuracy"]
    best_step = max(sorted(accuracy), key=lambda step: accuracy[step])  # the first of equals, as kept

    reader = tf.train.load_checkpoint(str(evaluated_run / "model.ckpt-best"))

    assert int(reader.get_tensor("global_step")) == best_step


def test_each_loop_logs_step_loss_learning_rate_speed_and_eta(tmp_path, shards, absl_log):

    run_pretraining(tf.distribute.OneDeviceStrategy("/cpu:0"), TINY, job(tmp_path, shards))

    assert re.search(r"step 3/3  loss \d+\.\d+ \(mlm \d+\.\d+, sop \d+\.\d+\)  lr \S+  \d+\.\d examples/s  "
                     r"ETA \d\d:\d\d:\d\d", absl_log.text)


def test_empty_input_glob_names_the_flag(tmp_path):
    config = job(tmp_path, [str(tmp_path / "missing-*.tfrecord")])

    with pytest.raises(FileNotFoundError, match=r"--input_file=.*missing-\*\.tfrecord matches no file"):
        run_pretraining(tf.distribute.OneDeviceStrategy("/cpu:0"), TINY, config)


def test_batch_not_divisible_by_replicas_names_the_flag(tmp_path, shards):
    config = job(tmp_path, shards, train_batch_size=7)

    with pytest.raises(ValueError, match=r"--train_batch_size=7 must be divisible by the number of replicas \(2\)"):
        run_pretraining(two_cpu_mirrored_strategy(), TINY, config)


@pytest.mark.parametrize("learning_rate", [-1.0, 0.0, float("nan")])
def test_a_learning_rate_that_is_not_positive_is_refused(learning_rate, tmp_path, shards):
    config = job(tmp_path, shards, learning_rate=learning_rate)

    with pytest.raises(ValueError, match=r"--learning_rate must be a positive number"):
        run_pretraining(tf.distribute.OneDeviceStrategy("/cpu:0"), TINY, config)


def test_diverging_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path, shards):
    # Warmup gives step 1 a learning rate of 0; from step 2 on, 1e38 blows the weights up.
    config = job(tmp_path, shards, learning_rate=1e38, num_warmup_steps=2, num_train_steps=6, steps_per_loop=1,
                 save_checkpoints_steps=1)

    with pytest.raises(FloatingPointError, match=r"loss became (nan|inf).* last good checkpoint is \S*ckpt-(\d)") as error:
        run_pretraining(tf.distribute.OneDeviceStrategy("/cpu:0"), TINY, config)

    last_good = re.search(r"ckpt-(\d)", str(error.value)).group(1)
    assert tf.train.latest_checkpoint(str(tmp_path / "out")).endswith(f"ckpt-{last_good}")


def test_training_starts_from_an_init_checkpoint(tmp_path, shards):
    start = AlbertPretrainer(TINY)
    native = save_native_checkpoint(start, str(tmp_path / "start" / "ckpt"))
    config = job(tmp_path, shards, init_checkpoint=native, do_train=False, do_eval=True)

    loaded = Pretraining(tf.distribute.OneDeviceStrategy("/cpu:0"), TINY, config).model

    for a, b in zip(loaded.get_weights(), start.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_training_starts_from_an_original_encoder_only_checkpoint(tmp_path, shards):
    weights = numpy_albert.random_weights(TINY, with_heads=False)
    prefix = write_tf1_checkpoint(weights, str(tmp_path / "original" / "model.ckpt-1000"))
    config = job(tmp_path, shards, init_checkpoint=prefix, do_train=False, do_eval=True)

    loaded = original_variable_map(Pretraining(tf.distribute.OneDeviceStrategy("/cpu:0"), TINY, config).model)

    assert [name for name, value in weights.items() if not np.array_equal(loaded[name].numpy(), value)] == []


def test_init_from_group0_starts_every_group_from_group_0(tmp_path, shards):
    two_groups = dataclasses.replace(TINY, num_hidden_groups=2)
    weights = numpy_albert.random_weights(TINY, with_heads=False)
    prefix = write_tf1_checkpoint(weights, str(tmp_path / "original" / "model.ckpt-1000"))
    config = job(tmp_path, shards, init_checkpoint=prefix, init_from_group0=True, do_train=False, do_eval=True)

    loaded = original_variable_map(Pretraining(tf.distribute.OneDeviceStrategy("/cpu:0"), two_groups, config).model)

    group_1 = {name: variable for name, variable in loaded.items() if "/group_1/" in name}
    assert group_1 and all(np.array_equal(variable.numpy(), weights[name.replace("/group_1/", "/group_0/")])
                           for name, variable in group_1.items())


def test_init_checkpoint_of_another_shape_is_a_clear_error(tmp_path, shards):
    other = save_native_checkpoint(AlbertPretrainer(dataclasses.replace(TINY, hidden_size=32)),
                                   str(tmp_path / "other" / "ckpt"))
    config = job(tmp_path, shards, init_checkpoint=other)

    with pytest.raises(CheckpointMismatchError, match=r"checkpoint \S*other/ckpt\S* does not fit the model"):
        run_pretraining(tf.distribute.OneDeviceStrategy("/cpu:0"), TINY, config)


# --- the script, as users run it ------------------------------------------------------------

ORIGINAL_STYLE_FLAGS = """--albert_config_file={config}
--input_file={inputs}
--output_dir={output}
--max_seq_length=16
--max_predictions_per_seq=3
--do_train
--do_eval
--train_batch_size=8
--eval_batch_size=8
--optimizer=lamb
--learning_rate=0.001
--num_train_steps=8
--num_warmup_steps=2
--save_checkpoints_steps=2
--iterations_per_loop=1
--max_eval_steps=2
--keep_checkpoint_max=10
"""


def write_flagfile(tmp_path, shards, name):
    config_file = tmp_path / "albert_config.json"
    config_file.write_text(TINY.to_json_string())
    flagfile = tmp_path / f"{name}.flags"
    flagfile.write_text(ORIGINAL_STYLE_FLAGS.format(config=config_file, inputs=",".join(shards),
                                                   output=tmp_path / name))
    return flagfile


def model_and_optimizer_state(checkpoint_prefix):
    reader = tf.train.load_checkpoint(str(checkpoint_prefix))
    return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()
            if name.startswith(("model/", "optimizer/"))}


def test_script_splits_the_cpu_into_replicas(tmp_path, shards):
    flagfile = write_flagfile(tmp_path, shards, "split")

    result = run_script("pretrain.py", f"--flagfile={flagfile}", "--num_logical_cpus=2", "--num_train_steps=2",
                        "--nodo_eval")

    assert "MirroredStrategy with 2 replica(s)" in result.stderr and (tmp_path / "split" / "ckpt-2.index").exists()


def test_a_mirrored_float16_step_compiled_with_xla_trains_with_loss_scaling(tmp_path, shards):
    # keras#21366: LossScaleOptimizer under jit_compile and MirroredStrategy crashes in merge_call.
    # Our step compiles the gradients only; the optimizer's apply (and its merge_call) stays outside.
    flagfile = write_flagfile(tmp_path, shards, "fp16")

    result = run_script("pretrain.py", f"--flagfile={flagfile}", "--num_logical_cpus=2", "--num_train_steps=2",
                        "--mixed_precision=mixed_float16", "--jit_compile", "--nodo_eval")

    state = model_and_optimizer_state(tmp_path / "fp16" / "ckpt-2")
    assert "MirroredStrategy with 2 replica(s)" in result.stderr and all(np.isfinite(v).all() for v in state.values())


def test_the_next_run_removes_what_a_killed_checkpoint_save_left(tmp_path, shards):
    flagfile = write_flagfile(tmp_path, shards, "out")
    # TensorFlow writes a save's shards under <prefix>_temp/ and merges them into <prefix> at its end.
    left = tmp_path / "out" / "ckpt-4_temp"
    left.mkdir(parents=True)
    (left / "part-00000-of-00001.index").write_bytes(b"cut short")

    run_script("pretrain.py", f"--flagfile={flagfile}", "--num_train_steps=2", "--nodo_eval")

    assert not left.exists()


def test_an_init_checkpoint_of_another_model_is_one_line_from_the_script(tmp_path, shards):
    other = save_native_checkpoint(AlbertPretrainer(dataclasses.replace(TINY, hidden_size=32)),
                                   str(tmp_path / "other" / "ckpt"))

    result = run_script("pretrain.py", f"--flagfile={write_flagfile(tmp_path, shards, 'out')}",
                        f"--init_checkpoint={other}", expect_failure=True)

    assert "does not fit the model" in result.stderr and "Traceback" not in result.stderr


@pytest.fixture(scope="module")
def killed_and_resumed(shards, tmp_path_factory):
    """(output of an uninterrupted run, output of a run killed with SIGKILL and rerun), same flags."""
    tmp_path = tmp_path_factory.mktemp("resume")
    run_script("pretrain.py", f"--flagfile={write_flagfile(tmp_path, shards, 'straight')}")
    flagfile = write_flagfile(tmp_path, shards, "killed")
    env = dict(os.environ, PYTHONPATH=REPO_ROOT)
    process = subprocess.Popen([sys.executable, os.path.join(REPO_ROOT, "run", "pretrain.py"), f"--flagfile={flagfile}"],
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while not (tmp_path / "killed" / "ckpt-4.index").exists() and process.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not (tmp_path / "killed" / "ckpt-8.index").exists(), "the run finished before it was killed"

    run_script("pretrain.py", f"--flagfile={flagfile}")
    return tmp_path / "straight", tmp_path / "killed"


@pytest.mark.slow
def test_killed_run_resumes_to_the_same_weights_as_an_uninterrupted_run(killed_and_resumed):
    straight_dir, killed_dir = killed_and_resumed

    straight = model_and_optimizer_state(straight_dir / "ckpt-8")
    resumed = model_and_optimizer_state(killed_dir / "ckpt-8")

    assert straight.keys() == resumed.keys()
    for name in straight:
        np.testing.assert_array_equal(resumed[name], straight[name], err_msg=name)


@pytest.mark.slow
def test_a_resumed_run_rewrites_its_flags_file(killed_and_resumed):
    flags_file = (killed_and_resumed[1] / "flags.txt").read_text()

    assert flags_file.count("--output_dir=") == 1


@pytest.fixture(scope="module")
def rerun_flags(shards, tmp_path_factory):
    """(flags.txt, {timestamped copy: its text}) in --output_dir after a first run (2 steps), after a
    resume refused for another --albert_config_file (with its stderr), after a resume to 4 steps."""
    tmp_path = tmp_path_factory.mktemp("rerun")
    flagfile = write_flagfile(tmp_path, shards, "out")
    output = tmp_path / "out"
    wider = tmp_path / "wider_config.json"
    wider.write_text(dataclasses.replace(TINY, hidden_size=32).to_json_string())

    def state():
        return ((output / "flags.txt").read_text(),
                {path.name: path.read_text() for path in sorted(output.glob("flags-*.txt"))})

    run_script("pretrain.py", f"--flagfile={flagfile}", "--num_train_steps=2", "--nodo_eval")
    first = state()
    refused = run_script("pretrain.py", f"--flagfile={flagfile}", "--num_train_steps=2", "--nodo_eval",
                         f"--albert_config_file={wider}", expect_failure=True)
    after_refused = state()
    run_script("pretrain.py", f"--flagfile={flagfile}", "--num_train_steps=4", "--nodo_eval")
    return {"output": output, "first": first, "refused": (refused.stderr, after_refused), "resumed": state()}


def test_a_refused_resume_leaves_the_flags_it_asks_to_rerun_with(rerun_flags):
    stderr, after_refused = rerun_flags["refused"]

    assert ("which this job cannot resume" in stderr, after_refused) == (True, rerun_flags["first"])


def test_each_run_keeps_a_timestamped_copy_of_its_flags(rerun_flags):
    first_flags, _ = rerun_flags["first"]
    flags_file, copies = rerun_flags["resumed"]

    assert ("--num_train_steps=4" in flags_file.splitlines(), list(copies.values())) == (True, [first_flags, flags_file])


def test_a_finished_job_releases_its_output_dir(rerun_flags):
    assert not (rerun_flags["output"] / LOCK_FILE).exists()


def test_a_second_job_on_a_locked_output_dir_fails_before_any_work_naming_the_holder(tmp_path):
    with OutputLock(str(tmp_path), "the first job"):
        result = run_script("pretrain.py", "--flagfile=run/flags/quickstart.flags", f"--output_dir={tmp_path}",
                            expect_failure=True, timeout=120)

    assert (f"--output_dir: {tmp_path} is in use by another job: pid {os.getpid()} on host {socket.gethostname()}"
            in result.stderr, f"delete {tmp_path / LOCK_FILE}" in result.stderr,
            sorted(path.name for path in tmp_path.iterdir())) == (True, True, [])


def test_outputs_go_through_tf_io_gfile_to_any_filesystem(tmp_path, shards):
    # TF's in-memory filesystem stands in for gs://: a plain `open` or `os.path` call on an output path fails.
    flagfile = write_flagfile(tmp_path, shards, "unused")

    result = run_script("pretrain.py", f"--flagfile={flagfile}", "--output_dir=ram://pretraining", "--num_train_steps=2",
                        "--save_checkpoints_steps=2")

    assert "global_step = 2" in result.stdout


def test_records_of_another_length_name_the_file(tmp_path):
    longer = write_pretraining_records(tmp_path / "seq32.tfrecord", 4, 32, PREDICTIONS, VOCAB)

    with pytest.raises(ValueError, match=r"seq32\.tfrecord: feature 'input_ids' has length 32, but max_seq_length=16"):
        run_pretraining(tf.distribute.OneDeviceStrategy("/cpu:0"), TINY, job(tmp_path, [longer]))


def test_every_files_first_record_is_checked_not_only_the_first_files(tmp_path, shards):
    others = [write_pretraining_records(tmp_path / f"more-{i}.tfrecord", 2, SEQ, PREDICTIONS, VOCAB) for i in range(9)]
    longer = write_pretraining_records(tmp_path / "seq32.tfrecord", 2, 32, PREDICTIONS, VOCAB)

    with pytest.raises(ValueError, match=r"seq32\.tfrecord: feature 'input_ids' has length 32"):
        run_pretraining(tf.distribute.OneDeviceStrategy("/cpu:0"), TINY,
                        job(tmp_path, [*shards, *others, longer]))


def test_a_file_that_mixes_record_lengths_stops_training_naming_the_file_and_record(tmp_path):
    fitting = Path(write_pretraining_records(tmp_path / "fitting", 1, SEQ, PREDICTIONS, VOCAB)).read_bytes()
    longer = Path(write_pretraining_records(tmp_path / "longer", 64, 32, PREDICTIONS, VOCAB)).read_bytes()
    mixed = tmp_path / "mixed.tfrecord"
    mixed.write_bytes(fitting + longer)  # TFRecord files concatenate into one file of both files' records

    with pytest.raises(ValueError, match=r"mixed\.tfrecord, record 1 \(from 0\): it does not fit max_seq_length=16 "
                                         r"and max_predictions_per_seq=3\. .* leave it out of --input_file"):
        run_pretraining(tf.distribute.OneDeviceStrategy("/cpu:0"), TINY, job(tmp_path, [str(mixed)]))


def test_a_corrupt_file_stops_training_naming_the_file_and_record(tmp_path, shards):
    records = bytearray(Path(write_pretraining_records(tmp_path / "whole", 40, SEQ, PREDICTIONS, VOCAB)).read_bytes())
    records[len(records) // 2] ^= 0xFF  # one flipped byte: its record's checksum no longer matches
    corrupt = tmp_path / "corrupt.tfrecord"
    corrupt.write_bytes(records)

    with pytest.raises(ValueError, match=r"corrupt\.tfrecord, record 20 \(from 0\): the file is "
                                         r"corrupt there \(corrupted record at \d+\)\. Rebuild the file"):
        run_pretraining(tf.distribute.OneDeviceStrategy("/cpu:0"), TINY,
                        job(tmp_path, [shards[0], str(corrupt)], num_train_steps=20, steps_per_loop=20))


def test_a_token_id_past_the_vocabulary_in_a_later_record_names_the_file_and_record(tmp_path, shards):
    fitting = Path(write_pretraining_records(tmp_path / "fitting", 1, SEQ, PREDICTIONS, VOCAB)).read_bytes()
    other_model = Path(write_pretraining_records(tmp_path / "other", 40, SEQ, PREDICTIONS, 4 * VOCAB, seed=1))
    mixed = tmp_path / "mixed.tfrecord"
    mixed.write_bytes(fitting + other_model.read_bytes())

    with pytest.raises(ValueError, match=r"mixed\.tfrecord, record 1 \(from 0\): a token id does not fit "
                                         rf"vocab_size={VOCAB}"):
        run_pretraining(tf.distribute.OneDeviceStrategy("/cpu:0"), TINY, job(tmp_path, [str(mixed)]))


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@pytest.mark.slow
def test_two_worker_processes_train_and_evaluate_together(tmp_path, shards):
    flagfile = write_flagfile(tmp_path, shards, "workers")
    cluster = {"worker": [f"127.0.0.1:{port}" for port in free_ports(2)]}
    workers = []
    for index in range(2):
        env = dict(os.environ, PYTHONPATH=REPO_ROOT,
                   TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}))
        workers.append(subprocess.Popen(
            [sys.executable, os.path.join(REPO_ROOT, "run", "pretrain.py"), f"--flagfile={flagfile}",
             "--strategy=multi_worker_mirrored", "--num_train_steps=4"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    logs = [worker.communicate(timeout=300)[0] for worker in workers]

    assert [worker.returncode for worker in workers] == [0, 0], logs[0][-3000:] + logs[1][-3000:]
    output = tmp_path / "workers"
    assert (output / "ckpt-4.index").exists() and "global_step = 4" in (output / "eval_results.txt").read_text()
    assert not list(output.glob(".worker-*")), "non-chief scratch checkpoints are cleaned up"


@pytest.mark.parametrize("size", ["base", "large", "xlarge", "xxlarge"])
def test_recipe_flagfiles_use_only_the_scripts_flags(size):
    sys.path.insert(0, os.path.join(REPO_ROOT, "run"))
    import pretrain  # noqa: F401  (defines the script's flags)
    from absl import flags

    lines = (Path(REPO_ROOT) / "run" / "flags" / f"albert_{size}.flags").read_text().splitlines()
    settings = dict((line[2:].split("=", 1) + [""])[:2] for line in lines if line.startswith("--"))

    assert [name for name in settings if name not in flags.FLAGS] == []
    assert (Path(REPO_ROOT) / settings["albert_config_file"]).exists()


def test_quickstart_flagfile_pretrains_on_the_sample_shards(tmp_path):
    result = run_script("pretrain.py", "--flagfile=run/flags/quickstart.flags", f"--output_dir={tmp_path}",
                        "--num_train_steps=4", "--iterations_per_loop=2", "--save_checkpoints_steps=4",
                        "--max_eval_steps=2")

    assert "global_step = 4" in result.stdout and (tmp_path / "model.ckpt-best.index").exists()


def test_shards_from_another_vocabulary_name_the_file(tmp_path):
    wide = write_pretraining_records(tmp_path / "wide.tfrecord", 4, SEQ, PREDICTIONS, 5000)

    with pytest.raises(ValueError, match=r"wide\.tfrecord: token id \d+ does not fit vocab_size=64"):
        run_pretraining(tf.distribute.OneDeviceStrategy("/cpu:0"), TINY, job(tmp_path, [wide]))
