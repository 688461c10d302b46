"""The entry points in run/ work as the README shows them."""

import os
import re

import pytest

import albert_tf
from tests.conftest import REPO_ROOT, run_script, write_pretraining_records


def test_forward_prints_every_output_of_the_tiny_model():
    result = run_script("forward.py", "--albert_config_file=run/configs/albert_tiny.json", "--batch_size=2",
                        "--seq_length=16", "--max_predictions_per_seq=3", env=AS_A_USER_RUNS_IT)

    assert "mlm_logits       (2, 3, 4000)" in result.stdout and "encoder_outputs  4 x (2, 16, 64)" in result.stdout
    assert result.stderr == ""  # TensorFlow's start-up lines are taken out


# The test session quiets TensorFlow itself (conftest.py); scripts run as from a plain shell.
AS_A_USER_RUNS_IT = {"TF_CPP_MIN_LOG_LEVEL": None, "ALBERT_TF_VERBOSE": None}

ENTRY_POINTS = sorted(name for name in os.listdir(os.path.join(REPO_ROOT, "run"))
                      if name.endswith(".py") and 'if __name__ == "__main__"' in open(os.path.join(REPO_ROOT, "run", name)).read())

# Runs a script as `python run/<script> <flag>` does, then says whether TensorFlow was imported.
IMPORTS_AFTER_FLAGS = """
import os, runpy, sys
script, flag = sys.argv[1:]
sys.argv = [script, flag]
sys.path.insert(0, os.path.dirname(script))
try:
    runpy.run_path(script, run_name="__main__")
except SystemExit as e:
    print("exit", e.code)
print("tensorflow imported:", "tensorflow" in sys.modules)
"""


@pytest.mark.parametrize("script", ENTRY_POINTS)
def test_help_and_a_mistyped_flag_answer_before_tensorflow_is_imported(script):
    import subprocess
    import sys

    assert len(ENTRY_POINTS) >= 13
    env = dict(os.environ, PYTHONPATH=REPO_ROOT)
    for flag, expected in (("--help", "Try --helpfull to get a list of all flags."), ("--no_such_flag", "Unknown command line flag 'no_such_flag'")):
        result = subprocess.run([sys.executable, "-c", IMPORTS_AFTER_FLAGS, os.path.join(REPO_ROOT, "run", script), flag],
                                env=env, capture_output=True, text=True, timeout=120)
        assert expected in result.stdout + result.stderr, result.stderr
        assert result.stdout.splitlines()[-2:] == ["exit 1", "tensorflow imported: False"], result.stdout[-2000:]


@pytest.mark.parametrize("verbose", [{"ALBERT_TF_VERBOSE": "1"}, {"flag": "--verbosity=1"}])
def test_verbose_brings_tensorflow_start_up_logs_back(verbose):
    flag = verbose.pop("flag", "--verbosity=0")
    result = run_script("forward.py", "--batch_size=1", "--seq_length=8", "--max_predictions_per_seq=1", flag,
                        env={**AS_A_USER_RUNS_IT, **verbose})

    assert "WARNING: All log messages before absl::InitializeLog() is called" in result.stderr


def test_fine_tuning_logs_its_warnings_but_not_tensorflow_chatter(tmp_path):
    result = run_script("run_classifier.py", "--task_name=SST-2", "--data_dir=tfrecords/sample/glue",
                        "--albert_config_file=run/configs/albert_tiny.json",
                        "--spm_model_file=tfrecords/sample/botchan.model", f"--output_dir={tmp_path}",
                        "--max_seq_length=16", "--train_batch_size=2", "--train_step=1", "--save_checkpoints_steps=1",
                        "--do_train", env=AS_A_USER_RUNS_IT)

    assert "No --init_checkpoint: fine-tuning from random initialization" in result.stderr  # a real warning
    assert (tmp_path / "ckpt-1.index").exists()
    noise = ("Sharding callback duration", "absl::InitializeLog", "oneDNN custom operations", "cuInit")
    assert [line for line in result.stderr.splitlines() if any(text in line for text in noise)] == []


@pytest.mark.slow
def test_model_benchmark_reports_every_dtype_and_xla_setting():
    result = run_script("benchmark.py", "model", "--config=run/configs/albert_tiny.json", "--batch=2", "--seq=16",
                        "--peer=none", "--rounds=1", "--calls=1")

    rows = [line.split()[:3] for line in result.stdout.splitlines() if "albert_tf" in line.split()]
    assert rows == [[d, x, "albert_tf"] for d in ("float32", "mixed_bfloat16") for x in ("off", "on")]


def test_model_benchmark_profiles_where_the_training_step_spends_its_op_time():
    result = run_script("benchmark.py", "model", "--config=run/configs/albert_tiny.json", "--batch=2", "--seq=16",
                        "--peer=none", "--rounds=1", "--calls=1", "--dtypes=float32", "--xla=false", "--profile")

    lines = result.stdout.splitlines()
    by_type = next(line for line in lines if line.strip().startswith("by op type:"))
    by_scope = next(line for line in lines if line.strip().startswith("by scope:"))
    # The training GELU's XLA kernels are no TensorFlow ops: their runs are counted apart.
    assert ("XLA kernels" in by_type, "backward" in by_scope, "group_0_inner_group_0/attention" in by_scope) == (
        True, True, True)


def test_model_benchmark_counts_the_matrix_product_flops_of_the_xla_training_step():
    result = run_script("benchmark.py", "model", "--config=run/configs/albert_tiny.json", "--batch=2", "--seq=16",
                        "--peer=none", "--rounds=1", "--calls=1", "--dtypes=float32", "--xla=true", "--profile")

    # albert_tiny: E=32, H=64, I=128, 4 layers; 2 x 16 tokens. Forward: the embedding projection,
    # per layer Q, K, V and output (4 H x H), scores and context (2 T x H per token) and the FFN
    # (2 H x I), then the pooler; backward takes two products of each one's size (every input
    # of these products needs its gradient).
    batch, seq, tokens = 2, 16, 32
    forward = 2 * (tokens * 32 * 64 + 4 * (tokens * (4 * 64 * 64 + 2 * seq * 64 + 2 * 64 * 128)) + batch * 64 * 64)
    reported = re.search(r"training step: ([\d.]+) GFLOP of dots per call", result.stdout)
    share = re.search(r"dots take (\d+)% of its kernels' time", result.stdout)
    # The FLOPs are printed to 4 digits; the profile finds the dots' kernels, and kernels besides.
    assert (float(reported.group(1)), 0 < int(share.group(1)) < 100) == (pytest.approx(3 * forward / 1e9, rel=5e-4),
                                                                         True)


@pytest.mark.slow
def test_train_benchmark_times_the_pretraining_step_and_compares_loss_curves(tmp_path):
    shard = write_pretraining_records(tmp_path / "shard.tfrecord", 64, 16, 3, 4000)
    flagfile = tmp_path / "bench.flags"
    flagfile.write_text(f"--albert_config_file=run/configs/albert_tiny.json\n--input_file={shard}\n"
                        f"--output_dir={tmp_path / 'out'}\n--max_seq_length=16\n--max_predictions_per_seq=3\n"
                        "--train_batch_size=4\n")

    result = run_script("benchmark.py", "train", f"--flagfile={flagfile}", "--peer=none", "--xla=false",
                        "--rounds=1", "--calls=1", "--steps=1", "--curve_steps=4")

    rows = [line.split()[:3] for line in result.stdout.splitlines() if "albert_tf" in line.split()]
    assert rows == [["float32", "off", "albert_tf"], ["mixed_bfloat16", "off", "albert_tf"]]
    assert "largest relative gap between the curves" in result.stdout


def test_data_benchmark_reports_writer_and_pipeline_throughput():
    result = run_script("benchmark.py", "data", "--data_seq=64", "--data_dupe_factor=2", "--data_batch=8",
                        "--data_corpus_mb=0.05")

    assert "corpus-0.05mb.txt" in result.stdout
    assert "create_pretraining_data, 1 worker(s): dupe_factor 2:" in result.stdout
    # So small a corpus may not show the steady state (start-up noise); the report then says so.
    assert re.search(r"steady state, \d+ workers vs 1: ([\d.]+x|not measurable) \(this machine's ceiling: \d+ "
                     r"processes of pure Python do [\d.]+x the work of one\)$", result.stdout, re.M)
    assert "input pipeline, batch 8 x seq 64" in result.stdout


@pytest.mark.slow
def test_data_benchmark_times_the_original_tool_as_a_command_next_to_its_tokenization_module(tmp_path):
    # A stand-in with the original's layout: a script beside a tokenization.py that imports
    # tensorflow_hub (not installed here); it writes three records per pass.
    (tmp_path / "tokenization.py").write_text("import tensorflow_hub\n")
    (tmp_path / "create_pretraining_data.py").write_text(
        "import sys\nimport tensorflow as tf\nimport tokenization\n"
        "args = dict(a[2:].split('=', 1) for a in sys.argv[1:])\n"
        "with tf.io.TFRecordWriter(args['output_file']) as writer:\n"
        "    for _ in range(3 * int(args['dupe_factor'])):\n        writer.write(b'')\n")

    result = run_script("benchmark.py", "data", "--data_seq=64", "--data_dupe_factor=2", "--data_batch=8",
                        f"--original_tool={tmp_path / 'create_pretraining_data.py'}")

    assert "command, original, 1 process: dupe_factor 2: 6 instances" in result.stdout
    assert "ours, 1 worker(s) vs the original tool:" in result.stdout


def test_make_finetuning_samples_rebuilds_the_committed_sample_tasks(tmp_path):
    import filecmp
    import os

    run_script("make_finetuning_samples.py", f"--output_dir={tmp_path}")

    for task in ("glue", "RACE"):
        for root, _, files in os.walk(os.path.join("tfrecords/sample", task)):
            rebuilt = os.path.join(tmp_path, os.path.relpath(root, "tfrecords/sample"))
            _, mismatch, errors = filecmp.cmpfiles(root, rebuilt, files, shallow=False)
            assert not mismatch and not errors, (root, mismatch, errors)


def test_the_readme_python_snippet_runs_as_written(tmp_path, monkeypatch):
    readme = open(os.path.join(REPO_ROOT, "README.md"), encoding="utf-8").read()
    snippet = readme.split("## Use", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    config = albert_tf.AlbertConfig.from_json_file(os.path.join(REPO_ROOT, "run/configs/albert_tiny.json"))
    # The quickstart's checkpoint, stood in for by a fresh model's under the original names.
    checkpoint = albert_tf.save_original_checkpoint(albert_tf.AlbertPretrainer(config), str(tmp_path / "model.ckpt-best"))
    monkeypatch.chdir(REPO_ROOT)
    namespace = {}

    exec(snippet.replace("tfrecords/quickstart_output/model.ckpt-best", checkpoint), namespace)

    assert (namespace["out"]["sequence_output"].shape[0], tuple(namespace["logits"]["mlm_logits"].shape),
            tuple(namespace["logits"]["sop_logits"].shape)) == (2, (2, 2, config.vocab_size), (2, 2))
