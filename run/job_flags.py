"""Device flags shared by every training entry point (the original TPUEstimator names plus ours),
and the strategy they select."""

from absl import flags, logging

import startup
from albert_tf.constants import STRATEGIES

strategies = startup.lazy_import("albert_tf.training.strategy")

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
