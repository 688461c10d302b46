"""Device flags shared by every training entry point (the original TPUEstimator names plus ours),
the strategy they select, and what every training job does in its --output_dir: hold its lock
and record its flags."""

import contextlib
import os
import sys
import time

from absl import app, flags, logging

import startup
from albert_tf.constants import STRATEGIES

output_lock = startup.lazy_import("albert_tf.output_lock")
staging = startup.lazy_import("albert_tf.staging")
strategies = startup.lazy_import("albert_tf.training.strategy")
tf = startup.lazy_import("tensorflow")

FLAGS = flags.FLAGS


def define_device_flags():
    flags.DEFINE_bool("use_tpu", False, "Run on a TPU (selects --strategy=tpu).")
    flags.DEFINE_string("tpu_name", None, "TPU name or address.")
    flags.DEFINE_string("tpu_zone", None, "GCE zone of the TPU.")
    flags.DEFINE_string("gcp_project", None, "GCP project of the TPU.")
    flags.DEFINE_string("master", None, "TPU master address (used when --tpu_name is not given).")
    flags.DEFINE_integer("num_tpu_cores", 8, "TPU cores; only checked against what the TPU reports.")
    flags.DEFINE_enum("strategy", None, STRATEGIES,
                      "tf.distribute strategy; default: tpu with --use_tpu, mirrored over several GPUs or "
                      "logical CPUs, else one_device.")
    flags.DEFINE_integer("num_logical_cpus", 0, "Split the CPU into this many logical devices (to run and test "
                         "the multi-replica path without GPUs).")
    flags.DEFINE_enum("mixed_precision", "float32", ["float32", "mixed_bfloat16", "mixed_float16"],
                      "Keras dtype policy; mixed_float16 adds dynamic loss scaling.")
    flags.DEFINE_bool("jit_compile", False, "Compile the forward and backward pass with XLA.")
    flags.DEFINE_integer("seed", 12345, "Seed for initialization, dropout and input order.")


def create_strategy():
    """The strategy the device flags select; warns when --num_tpu_cores disagrees with the TPU."""
    strategies.split_cpu(FLAGS.num_logical_cpus)
    strategy = strategies.create_strategy(
        FLAGS.strategy or strategies.default_strategy_name(FLAGS.use_tpu), tpu_name=FLAGS.tpu_name,
        tpu_zone=FLAGS.tpu_zone, gcp_project=FLAGS.gcp_project, master=FLAGS.master)
    if FLAGS.use_tpu and strategy.num_replicas_in_sync != FLAGS.num_tpu_cores:
        logging.warning("--num_tpu_cores=%d, but the TPU has %d cores; using %d.", FLAGS.num_tpu_cores,
                        strategy.num_replicas_in_sync, strategy.num_replicas_in_sync)
    return strategy


@contextlib.contextmanager
def output_dir_locked(strategy):
    """Holds --output_dir's lock (albert_tf.output_lock) for the job; a held one is a usage error.
    Holding it, removes what killed checkpoint saves left there.

    Only the chief takes it: the other workers of a multi-worker job share the chief's folder
    (writing only their own scratch subfolders), and would otherwise find it locked by the chief."""
    if not strategies.is_chief(strategy):
        yield
        return
    lock = output_lock.OutputLock(FLAGS.output_dir, " ".join(sys.argv))
    try:
        lock.acquire()
    except output_lock.OutputDirInUse as error:
        raise app.UsageError(f"--output_dir: {error}") from None
    for path in staging.remove_checkpoint_leftovers(FLAGS.output_dir):  # no save can be under way now
        logging.warning("Removed %s, left by a checkpoint save that was killed.", path)
    try:
        yield
    finally:
        lock.release()


def record_flags(strategy):
    """Writes the job's flags to --output_dir/flags.txt (rerun with --flagfile to repeat the job)
    and to flags-<UTC time>.txt, which no later run overwrites; on the chief only.

    Call it once the job is validated (a failed resume must leave the flags it would be rerun
    with in place) and with the lock held."""
    if not strategies.is_chief(strategy):
        return
    text = FLAGS.flags_into_string()
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    history, count = os.path.join(FLAGS.output_dir, f"flags-{stamp}.txt"), 1
    while tf.io.gfile.exists(history):
        count += 1
        history = os.path.join(FLAGS.output_dir, f"flags-{stamp}-{count}.txt")
    # Through tf.io.gfile: absl's own writer opens local files only.
    for path in (history, os.path.join(FLAGS.output_dir, "flags.txt")):
        staging.write_text(path, text)
