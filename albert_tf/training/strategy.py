"""Builds the `tf.distribute` strategy a training job runs on."""

import tensorflow as tf
from absl import logging

from albert_tf.constants import STRATEGIES


def split_cpu(num_logical_cpus):
    """Splits the CPU into `num_logical_cpus` logical devices, so multi-replica code runs on CPU.

    Must run before TensorFlow initializes its devices (before the first op).
    """
    if num_logical_cpus <= 1:
        return
    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * num_logical_cpus)
    except RuntimeError as e:
        raise RuntimeError(f"cannot split the CPU into {num_logical_cpus} logical devices after TensorFlow "
                           f"has initialized its devices: {e}") from None


def default_strategy_name(use_tpu):
    """`tpu` when asked for, `mirrored` over several GPUs or logical CPUs, else `one_device`."""
    if use_tpu:
        return "tpu"
    if len(tf.config.list_logical_devices("GPU")) > 1 or len(tf.config.list_logical_devices("CPU")) > 1:
        return "mirrored"
    return "one_device"


def create_strategy(name, *, tpu_name=None, tpu_zone=None, gcp_project=None, master=None):
    """Returns the strategy called `name` (one of STRATEGIES).

    `tpu` resolves the TPU from `tpu_name` (or `master`), `tpu_zone` and `gcp_project` as the
    original TPUEstimator jobs did; `multi_worker_mirrored` reads the cluster from TF_CONFIG;
    `mirrored` uses every GPU, or every logical CPU when there is no GPU.
    """
    if name not in STRATEGIES:
        raise ValueError(f"strategy {name!r} is not one of {STRATEGIES}")
    if name == "tpu":
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(
            tpu=tpu_name or master, zone=tpu_zone, project=gcp_project)
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        strategy = tf.distribute.TPUStrategy(resolver)
    elif name == "multi_worker_mirrored":
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
    elif name == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        devices = [d.name for d in (gpus or tf.config.list_logical_devices("CPU"))]
        strategy = tf.distribute.MirroredStrategy(devices)
    else:
        gpus = tf.config.list_logical_devices("GPU")
        strategy = tf.distribute.OneDeviceStrategy(gpus[0].name if gpus else "/cpu:0")
    logging.info("Strategy %s with %d replica(s).", type(strategy).__name__, strategy.num_replicas_in_sync)
    return strategy


def is_chief(strategy):
    """Whether this worker writes the job's outputs (always, except on non-chief workers)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type or isinstance(strategy, tf.distribute.TPUStrategy):
        return True
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return resolver.task_type == "chief" or (not has_chief and resolver.task_type == "worker" and resolver.task_id == 0)


def warn_of_xla_bfloat16_on_cpu(strategy, mixed_precision, jit_compile):
    """Warns that XLA on CPUs forgoes bfloat16 matrix kernels.

    TensorFlow's XLA CPU backend computes every bfloat16 matrix product in float32 (it converts
    the operands and the result around a float32 product), so a compiled mixed_bfloat16 step runs
    its products at float32 speed, while without XLA they run in oneDNN's bfloat16 kernels
    (BUILD.md, "XLA on CPU", has the measurement)."""
    try:
        devices = strategy.extended.worker_devices
    except RuntimeError:  # the default strategy has no devices of its own: TensorFlow places its ops
        devices = [device.name for device in tf.config.list_logical_devices()]
    on_cpu = all(tf.DeviceSpec.from_string(device).device_type == "CPU" for device in devices)
    if jit_compile and mixed_precision == "mixed_bfloat16" and on_cpu:
        logging.warning("XLA on CPU computes bfloat16 matrix products in float32: with jit_compile this "
                        "mixed_bfloat16 job forgoes the bfloat16 matrix kernels it would use without XLA, and "
                        "trains slower (BUILD.md, \"XLA on CPU\").")
