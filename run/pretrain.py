"""Pretrains ALBERT (masked LM + sentence order) from TFRecord shards.

    python run/pretrain.py --flagfile=run/flags/quickstart.flags

Accepts the original `run_pretraining.py` flags unchanged (TPU Estimator-style job files run
as they are; batch sizes are global), plus --strategy, --num_logical_cpus, --eval_input_file,
--mixed_precision, --jit_compile, --gradient_accumulation_steps and --seed. Rerunning the same
command after an interruption resumes from the last checkpoint in --output_dir.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf
from absl import app, flags, logging

import albert_tf
from albert_tf.training import pretraining, strategy as strategies

# The original run_pretraining.py flags, with its defaults.
flags.DEFINE_string("albert_config_file", None, "albert_config.json of the model to pretrain.")
flags.DEFINE_string("input_file", None, "TFRecord shards: glob(s), comma-separated.")
flags.DEFINE_string("output_dir", None, "Where checkpoints, summaries and eval results go.")
flags.DEFINE_string("init_checkpoint", None, "Start from this checkpoint (original TF1 or native; "
                    "encoder-only is fine). Ignored when --output_dir already has a checkpoint.")
flags.DEFINE_integer("max_seq_length", 512, "Sequence length of the records.")
flags.DEFINE_integer("max_predictions_per_seq", 20, "Masked positions per sequence in the records.")
flags.DEFINE_bool("do_train", True, "Train.")
flags.DEFINE_bool("do_eval", False, "Evaluate (after every checkpoint when training).")
flags.DEFINE_integer("train_batch_size", 4096, "Global training batch size.")
flags.DEFINE_integer("eval_batch_size", 64, "Global evaluation batch size.")
flags.DEFINE_enum("optimizer", "lamb", ["lamb", "adamw"], "Optimizer.")
flags.DEFINE_float("learning_rate", 0.00176, "Peak learning rate.")
flags.DEFINE_float("poly_power", 1.0, "Power of the polynomial decay.")
flags.DEFINE_integer("num_train_steps", 125000, "Optimizer steps.")
flags.DEFINE_integer("num_warmup_steps", 3125, "Linear warmup steps.")
flags.DEFINE_integer("start_warmup_step", 0, "Step at which warmup starts.")
flags.DEFINE_integer("save_checkpoints_steps", 5000, "Checkpoint every this many steps.")
flags.DEFINE_integer("keep_checkpoint_max", 5, "Checkpoints to keep.")
flags.DEFINE_integer("iterations_per_loop", 1000, "Steps run inside one compiled call.")
flags.DEFINE_integer("max_eval_steps", 100, "Evaluation batches.")
flags.DEFINE_bool("use_tpu", False, "Run on a TPU (selects --strategy=tpu).")
flags.DEFINE_bool("init_from_group0", False, "Initialize every group from group_0 of --init_checkpoint.")
flags.DEFINE_string("tpu_name", None, "TPU name or address.")
flags.DEFINE_string("tpu_zone", None, "GCE zone of the TPU.")
flags.DEFINE_string("gcp_project", None, "GCP project of the TPU.")
flags.DEFINE_string("master", None, "TPU master address (used when --tpu_name is not given).")
flags.DEFINE_integer("num_tpu_cores", 8, "TPU cores; only checked against what the TPU reports.")
flags.DEFINE_float("masked_lm_budget", 0, "Original flag for online masking, which the original never "
                   "implemented; only 0 is accepted.")
# New flags.
flags.DEFINE_enum("strategy", None, strategies.STRATEGIES,
                  "tf.distribute strategy; default: tpu with --use_tpu, mirrored over several GPUs or "
                  "logical CPUs, else one_device.")
flags.DEFINE_integer("num_logical_cpus", 0, "Split the CPU into this many logical devices (to run and test "
                     "the multi-replica path without GPUs).")
flags.DEFINE_string("eval_input_file", None, "Held-out shards for --do_eval (default: the training files, "
                    "as the original).")
flags.DEFINE_enum("mixed_precision", "float32", ["float32", "mixed_bfloat16", "mixed_float16"],
                  "Keras dtype policy; mixed_float16 adds dynamic loss scaling.")
flags.DEFINE_bool("jit_compile", False, "Compile the forward and backward pass with XLA.")
flags.DEFINE_integer("gradient_accumulation_steps", 1, "Micro-batches per optimizer step.")
flags.DEFINE_integer("seed", 12345, "Seed for initialization and input order.")
FLAGS = flags.FLAGS


def pretraining_config():
    return pretraining.PretrainingConfig(
        input_files=tuple(FLAGS.input_file.split(",")) if FLAGS.input_file else (),
        output_dir=FLAGS.output_dir, max_seq_length=FLAGS.max_seq_length,
        max_predictions_per_seq=FLAGS.max_predictions_per_seq, train_batch_size=FLAGS.train_batch_size,
        eval_batch_size=FLAGS.eval_batch_size, optimizer=FLAGS.optimizer, learning_rate=FLAGS.learning_rate,
        poly_power=FLAGS.poly_power, num_train_steps=FLAGS.num_train_steps, num_warmup_steps=FLAGS.num_warmup_steps,
        start_warmup_step=FLAGS.start_warmup_step, save_checkpoints_steps=FLAGS.save_checkpoints_steps,
        keep_checkpoint_max=FLAGS.keep_checkpoint_max, steps_per_loop=FLAGS.iterations_per_loop,
        do_train=FLAGS.do_train, do_eval=FLAGS.do_eval,
        eval_input_files=tuple(FLAGS.eval_input_file.split(",")) if FLAGS.eval_input_file else (),
        max_eval_steps=FLAGS.max_eval_steps, init_checkpoint=FLAGS.init_checkpoint,
        init_from_group0=FLAGS.init_from_group0, mixed_precision=FLAGS.mixed_precision,
        jit_compile=FLAGS.jit_compile, gradient_accumulation_steps=FLAGS.gradient_accumulation_steps,
        seed=FLAGS.seed)


def main(argv):
    del argv
    if FLAGS.masked_lm_budget:
        raise app.UsageError("--masked_lm_budget: online masking is not implemented (nor was it in the "
                             "original, where the flag had no effect); pass 0 and pre-masked records")
    strategies.split_cpu(FLAGS.num_logical_cpus)
    strategy = strategies.create_strategy(
        FLAGS.strategy or strategies.default_strategy_name(FLAGS.use_tpu), tpu_name=FLAGS.tpu_name,
        tpu_zone=FLAGS.tpu_zone, gcp_project=FLAGS.gcp_project, master=FLAGS.master)
    if FLAGS.use_tpu and strategy.num_replicas_in_sync != FLAGS.num_tpu_cores:
        logging.warning("--num_tpu_cores=%d, but the TPU has %d cores; using %d.", FLAGS.num_tpu_cores,
                        strategy.num_replicas_in_sync, strategy.num_replicas_in_sync)
    albert_config = albert_tf.AlbertConfig.from_json_file(FLAGS.albert_config_file)
    config = pretraining_config()
    tf.io.gfile.makedirs(FLAGS.output_dir)
    FLAGS.append_flags_into_file(os.path.join(FLAGS.output_dir, "flags.txt"))

    results = pretraining.run_pretraining(strategy, albert_config, config)
    if results:
        print("eval results:")
        for key in pretraining.EVAL_KEYS:
            print(f"  {key} = {results[key]}")


if __name__ == "__main__":
    flags.mark_flags_as_required(["albert_config_file", "output_dir"])
    app.run(main)
