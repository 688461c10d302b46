"""Pretrains ALBERT (masked LM + sentence order) from TFRecord shards.

    python run/pretrain.py --flagfile=run/flags/quickstart.flags

Accepts the original `run_pretraining.py` flags unchanged (TPU Estimator-style job files run
as they are; batch sizes are global), plus --strategy, --num_logical_cpus, --eval_input_file,
--mixed_precision, --jit_compile, --gradient_accumulation_steps and --seed. Rerunning the same
command after an interruption resumes from the last checkpoint in --output_dir.
"""


from absl import app, flags

import startup  # noqa: I001  (first: quiet start-up, TensorFlow after the flags)
import checkpoint_flags
import job_flags

tf = startup.lazy_import("tensorflow")
pretraining = startup.lazy_import("albert_tf.training.pretraining")

# The original run_pretraining.py flags, with its defaults.
flags.DEFINE_string("albert_config_file", None, "albert_config.json of the model to pretrain (default: the one "
                    "--init_checkpoint carries, for a Hugging Face or keras-hub folder or a TF1 Hub module).")
flags.DEFINE_string("input_file", None, "TFRecord shards: glob(s), comma-separated.")
flags.DEFINE_string("output_dir", None, "Where checkpoints, summaries and eval results go.")
flags.DEFINE_string("init_checkpoint", None, "Start from this checkpoint (original TF1, native, a Hugging Face "
                    "folder, a keras-hub preset or an untarred TF1 Hub module; encoder-only is fine). Ignored when "
                    "--output_dir already has a checkpoint.")
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
flags.DEFINE_integer("keep_checkpoint_max", 5, "Checkpoints to keep (0: all).")
flags.DEFINE_integer("iterations_per_loop", 1000, "Steps run inside one compiled call.")
flags.DEFINE_integer("max_eval_steps", 100, "Evaluation batches.")
flags.DEFINE_bool("init_from_group0", False, "Initialize every group from group_0 of --init_checkpoint.")
flags.DEFINE_float("masked_lm_budget", 0, "Original flag for online masking, which the original never "
                   "implemented; only 0 is accepted.")
job_flags.define_device_flags()
# New flags.
flags.DEFINE_string("eval_input_file", None, "Held-out shards for --do_eval (default: the last --input_file "
                    "is held out of training; the original evaluated on its training files).")
flags.DEFINE_integer("gradient_accumulation_steps", 1, "Micro-batches per optimizer step.")
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
    albert_config = checkpoint_flags.resolve(FLAGS.init_checkpoint, need_spm_model=False).config
    strategy = job_flags.create_strategy()
    with job_flags.output_dir_locked(strategy):
        try:  # settings, input files and --init_checkpoint are checked here, before any training
            job = pretraining.Pretraining(strategy, albert_config, pretraining_config())
        except (OSError, ValueError) as e:
            raise app.UsageError(str(e)) from None
        job_flags.record_flags(strategy)
        results = job.run()
    if results:
        print("eval results:")
        for key in pretraining.EVAL_KEYS:
            print(f"  {key} = {results[key]}")


if __name__ == "__main__":
    flags.mark_flags_as_required(["input_file", "output_dir"])
    startup.run(main)
