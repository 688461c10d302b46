"""SIGKILL at seeded points of each long-running command, then the same command again.

For the data tool, pretraining, fine-tuning and export: while the killed run runs, the output
folder is watched, and nothing under a final name may ever be partial; the rerun's outputs must
equal those of a run that was never killed. The kill points are drawn (seeded) over the
uninterrupted run's duration, so on a slower or faster machine they fall elsewhere in the work:
the properties checked hold wherever they fall.
"""

import filecmp
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time

import numpy as np
import pytest
import tensorflow as tf

from tests.conftest import REPO_ROOT, run_script
from tests.test_glue import SAMPLE_MODEL, SST2_SAMPLE

KILLS_PER_COMMAND = 3
POLL_SECONDS = 0.02
TINY_CONFIG = "run/configs/albert_tiny.json"

pytestmark = pytest.mark.slow


def start(script, flags, log=subprocess.DEVNULL):
    env = dict(os.environ, PYTHONPATH=REPO_ROOT)
    return subprocess.Popen([sys.executable, os.path.join(REPO_ROOT, "run", script), *flags], env=env,
                            stdout=subprocess.DEVNULL, stderr=log)


def no_progress():
    return 0


def reference_run(script, flags, progress=no_progress):
    """Runs `script` uninterrupted; returns (its seconds, the seconds at which `progress()` — a count
    of saved stages of its work that only grows, e.g. checkpoints — first reached 1, 2, ...)."""
    with tempfile.TemporaryFile("w+") as log:
        process, begun, reached = start(script, flags, log), time.time(), [0.0]
        while process.poll() is None:
            reached += [time.time() - begun] * (progress() + 1 - len(reached))
            time.sleep(POLL_SECONDS)
        log.seek(0)
        assert process.returncode == 0, f"{script} failed:\n{log.read()}"
    return time.time() - begun, reached


def kill_points(seed, seconds, reached):
    """KILLS_PER_COMMAND moments drawn from 10% to 80% of the reference run's `seconds`, each as (the
    progress it had made by then, the seconds since it got there). A killed run is killed that long
    after reaching the same progress, so at the same stage of its work even when it runs faster
    than the reference, which pays for cold caches and may share the cores with other tests' runs
    (timed from the start alone, a pretraining run once ended before its kill point at 41.4 s)."""
    rng = random.Random(seed)
    points = []
    for moment in sorted(rng.uniform(0.1, 0.8) * seconds for _ in range(KILLS_PER_COMMAND)):
        stage = max(count for count, at in enumerate(reached) if at <= moment)
        points.append((stage, moment - reached[stage]))
    return points


def run_killed(script, flags, point, partial_outputs, progress=no_progress):
    """Runs `script`, watches its outputs with `partial_outputs()` (→ descriptions of partial files
    under final names) until SIGKILL at `point` (see kill_points; it must still run then); returns
    what was seen."""
    stage, after_seconds = point
    process, seen, deadline = start(script, flags), set(), None
    while process.poll() is None and (deadline is None or time.time() < deadline):
        seen.update(partial_outputs())
        if deadline is None and progress() >= stage:
            deadline = time.time() + after_seconds
        time.sleep(POLL_SECONDS)
    assert process.poll() is None, f"{script} ended before its kill point, {after_seconds:.1f} s after stage {stage}"
    process.send_signal(signal.SIGKILL)
    process.wait()
    seen.update(partial_outputs())
    return sorted(seen)


def files_under(folder):
    return {os.path.relpath(os.path.join(root, name), folder) for root, _, names in os.walk(folder) for name in names}


# --- the data tool -------------------------------------------------------------------------------

def data_flags(output_dir):
    # Enough passes that the work, not TensorFlow's start-up (3-7 s here), sets the run's length: the
    # kill points are fractions of one run's time and must fall inside the next.
    return ["--input_file=tfrecords/sample/botchan_corpus.txt", f"--output_file={output_dir}/pretraining.tfrecord",
            f"--spm_model_file={SAMPLE_MODEL}", "--max_seq_length=64", "--max_predictions_per_seq=10",
            "--dupe_factor=10", "--num_shards=3", "--num_workers=1"]


def test_the_data_tool_killed_anywhere_reruns_to_the_same_shards(tmp_path):
    reference = tmp_path / "reference"
    seconds, reached = reference_run("create_pretraining_data.py", data_flags(reference))
    final_names = sorted(name for name in files_under(reference) if not name.startswith("."))

    def same_as_reference(folder, name):
        if name.endswith(".json"):  # the stats, which name the shards by their paths
            ours, theirs = (json.loads((place / name).read_text()) for place in (folder, reference))
            return {**ours, "output_files": [os.path.basename(p) for p in ours["output_files"]]} == {
                **theirs, "output_files": [os.path.basename(p) for p in theirs["output_files"]]}
        return filecmp.cmp(folder / name, reference / name, shallow=False)

    def partial_outputs(folder):
        # A file under a final name is one of the reference's (byte for byte, for the shards), or it is partial.
        return [name for name in final_names if (folder / name).exists() and not same_as_reference(folder, name)]

    seen, mismatched = [], []
    for number, point in enumerate(kill_points(1, seconds, reached)):
        folder = tmp_path / f"killed-{number}"
        seen += run_killed("create_pretraining_data.py", data_flags(folder), point, lambda: partial_outputs(folder))
        run_script("create_pretraining_data.py", *data_flags(folder))
        mismatched += [f"{number}: {name}" for name in partial_outputs(folder)]

    assert (seen, mismatched) == ([], [])


# --- pretraining ---------------------------------------------------------------------------------

def pretraining_flags(output_dir):
    return ["--flagfile=run/flags/quickstart.flags", f"--output_dir={output_dir}", "--num_train_steps=60",
            "--num_warmup_steps=6", "--save_checkpoints_steps=10", "--iterations_per_loop=5", "--keep_checkpoint_max=0",
            "--do_eval", "--max_eval_steps=2"]


def saved_checkpoints(folder):
    return len(list(folder.glob("*.index")))


def unloadable_checkpoints(folder):
    """The checkpoints that `folder`'s checkpoint state names (or model.ckpt-best) that do not load."""
    state = tf.train.get_checkpoint_state(str(folder))
    named = list(state.all_model_checkpoint_paths) if state else []
    if (folder / "model.ckpt-best.index").exists():
        named.append(str(folder / "model.ckpt-best"))
    broken = []
    for prefix in named:
        try:
            weights(prefix)
        except (tf.errors.OpError, ValueError):
            broken.append(os.path.basename(prefix))
    return broken


def weights(prefix):
    """Every numeric tensor of a checkpoint (not the input iterator's state, which is a variant)."""
    reader = tf.train.load_checkpoint(str(prefix))
    return {name: reader.get_tensor(name) for name, dtype in reader.get_variable_to_dtype_map().items()
            if dtype.is_floating or dtype.is_integer}


def assert_same_weights(ours, reference):
    assert ours.keys() == reference.keys()
    for name in reference:
        np.testing.assert_array_equal(ours[name], reference[name], err_msg=name)


def killed_and_rerun(tmp_path, script, flags, seed):
    """(an uninterrupted run's folder, the folders of runs killed at each point and rerun); no
    checkpoint named by a folder's checkpoint state may fail to load while it is killed."""
    reference = tmp_path / "reference"
    seconds, reached = reference_run(script, flags(reference), lambda: saved_checkpoints(reference))
    reruns = []
    for number, point in enumerate(kill_points(seed, seconds, reached)):
        folder = tmp_path / f"killed-{number}"
        assert run_killed(script, flags(folder), point, lambda: unloadable_checkpoints(folder),
                          lambda: saved_checkpoints(folder)) == [], number
        run_script(script, *flags(folder))
        reruns.append(folder)
    return reference, reruns


def test_pretraining_killed_anywhere_resumes_to_the_same_weights_and_evaluations(tmp_path):
    reference, reruns = killed_and_rerun(tmp_path, "pretrain.py", pretraining_flags, seed=2)

    for folder in reruns:
        assert_same_weights(weights(folder / "ckpt-60"), weights(reference / "ckpt-60"))
        assert (folder / "eval_results.txt").read_text() == (reference / "eval_results.txt").read_text()
        assert_same_weights(weights(folder / "model.ckpt-best"), weights(reference / "model.ckpt-best"))


# --- fine-tuning ---------------------------------------------------------------------------------

def finetuning_flags(output_dir):
    return ["--task_name=SST-2", f"--data_dir={SST2_SAMPLE}", f"--albert_config_file={TINY_CONFIG}",
            f"--spm_model_file={SAMPLE_MODEL}", f"--output_dir={output_dir}", "--max_seq_length=64",
            "--train_step=40", "--warmup_step=4", "--save_checkpoints_steps=10", "--iterations_per_loop=5",
            "--train_batch_size=8", "--eval_batch_size=32", "--learning_rate=1e-3", "--do_train", "--do_eval",
            "--do_predict"]


def test_fine_tuning_killed_anywhere_resumes_to_the_same_weights_evaluations_and_predictions(tmp_path):
    reference, reruns = killed_and_rerun(tmp_path, "run_classifier.py", finetuning_flags, seed=3)

    for folder in reruns:
        assert_same_weights(weights(folder / "ckpt-40"), weights(reference / "ckpt-40"))
        for name in ("eval_results.txt", "best_trial.txt", "test_results.tsv"):
            assert (folder / name).read_text() == (reference / name).read_text(), f"{folder.name}: {name}"


# --- export ----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def classifier_checkpoint(tmp_path_factory):
    folder = tmp_path_factory.mktemp("classifier")
    run_script("run_classifier.py", *finetuning_flags(folder)[:-3], "--train_step=1", "--do_train")
    return str(folder / "ckpt-1")


def export_flags(checkpoint, export_dir):
    return [f"--init_checkpoint={checkpoint}", f"--albert_config_file={TINY_CONFIG}",
            f"--spm_model_file={SAMPLE_MODEL}", "--task=classifier", "--task_name=SST-2", "--max_seq_length=64",
            f"--export_dir={export_dir}"]


def test_an_export_killed_anywhere_reruns_to_the_same_saved_model(classifier_checkpoint, tmp_path):
    reference = tmp_path / "reference"
    seconds, reached = reference_run("export_saved_model.py", export_flags(classifier_checkpoint, reference))
    complete = sorted(files_under(reference / "1"))

    def partial_outputs(folder):
        # A version folder is there complete, or not at all.
        version = folder / "1"
        return [f"{version}: {sorted(files_under(version))}"] if version.exists() and sorted(
            files_under(version)) != complete else []

    for number, point in enumerate(kill_points(4, seconds, reached)):
        folder = tmp_path / f"killed-{number}"
        seen = run_killed("export_saved_model.py", export_flags(classifier_checkpoint, folder), point,
                          lambda: partial_outputs(folder))
        if not (folder / "1").exists():
            run_script("export_saved_model.py", *export_flags(classifier_checkpoint, folder))

        variables = os.path.join("1", "variables", "variables.data-00000-of-00001")
        assert (seen, sorted(os.listdir(folder))) == ([], ["1"]), f"kill point {number}"
        assert filecmp.cmp(folder / variables, reference / variables, shallow=False)
