"""Flags shared by run_classifier.py, run_squad.py and run_race.py, with the original names.

Each script calls `define_common_flags` with its own original defaults, then turns the parsed
flags into a `FinetuningConfig` with the functions below and a strategy with
`job_flags.create_strategy`.
"""

import os

from absl import app, flags

import albert_tf
import checkpoint_flags
import job_flags
import startup

tf = startup.lazy_import("tensorflow")
trainer = startup.lazy_import("albert_tf.finetuning.trainer")

FLAGS = flags.FLAGS


def define_common_flags(*, max_seq_length, learning_rate, save_checkpoints_steps, train_steps=None,
                        warmup_steps=None, do_train=False, do_eval=False):
    """`train_steps`/`warmup_steps` None: the script counts steps in epochs instead (SQuAD)."""
    flags.DEFINE_string("albert_config_file", None, "albert_config.json of the pretrained model (default: the one "
                        "--init_checkpoint carries, for a Hugging Face or keras-hub folder or a TF1 Hub module).")
    flags.DEFINE_string("spm_model_file", None, "SentencePiece model of the pretrained model (default: the one "
                        "--init_checkpoint carries).")
    flags.DEFINE_string("vocab_file", None, "Accepted for old job files; the SentencePiece model carries the vocabulary.")
    flags.DEFINE_string("output_dir", None, "Checkpoints, eval results and predictions go here.")
    flags.DEFINE_string("init_checkpoint", None, "Pretrained checkpoint to start from: original TF1, native, a Hugging "
                        "Face folder, a keras-hub preset or an untarred TF1 Hub module.")
    flags.DEFINE_string("albert_hub_module_handle", None, "A TF1 Hub module of the original release, downloaded and "
                        "untarred (a folder; URLs are not fetched): the same as --init_checkpoint=<folder>.")
    flags.DEFINE_bool("do_lower_case", True, "Lowercase the input (must match the pretrained model; default: what a "
                      "Hugging Face --init_checkpoint declares, else true).")
    flags.DEFINE_integer("max_seq_length", max_seq_length, "Sequence length after tokenization.")
    flags.DEFINE_bool("do_train", do_train, "Fine-tune.")
    flags.DEFINE_bool("do_predict", False, "Predict on the test data with the best (else latest) checkpoint.")
    flags.DEFINE_integer("train_batch_size", 32, "Global training batch size.")
    flags.DEFINE_integer("predict_batch_size", 8, "Global prediction batch size.")
    flags.DEFINE_float("learning_rate", learning_rate, "Peak learning rate.")
    if train_steps is not None:
        flags.DEFINE_bool("do_eval", do_eval, "Evaluate every checkpoint on the dev data.")
        flags.DEFINE_integer("eval_batch_size", 8, "Global evaluation batch size.")
        flags.DEFINE_integer("train_step", train_steps, "Optimizer steps.")
        flags.DEFINE_integer("warmup_step", warmup_steps, "Linear warmup steps.")
    flags.DEFINE_integer("save_checkpoints_steps", save_checkpoints_steps, "Checkpoint (and evaluate) every this many steps.")
    flags.DEFINE_integer("keep_checkpoint_max", 5, "Training checkpoints to keep (0: all; the best is kept apart). "
                         "A training run that does not evaluate keeps all unless this is given, so that a later "
                         "evaluation run chooses among every checkpoint, as with the original.")
    flags.DEFINE_integer("iterations_per_loop", 1000, "Steps run inside one compiled call.")
    flags.DEFINE_enum("optimizer", "adamw", ["adamw", "lamb"], "Optimizer.")
    flags.DEFINE_bool("dynamic_padding", True, "Cut each batch to its longest row (rounded up to a multiple of 16 "
                      "tokens) instead of --max_seq_length, and train on batches of similar lengths: eval metrics and "
                      "predictions are unchanged, training is the same in expectation but not bit-identical to "
                      "--nodynamic_padding. Ignored on TPUs, which need static shapes; --nodynamic_padding keeps every "
                      "batch at --max_seq_length elsewhere too.")
    job_flags.define_device_flags()
    flags.mark_flags_as_required(["output_dir"])


def check_common_flags():
    if not (FLAGS.do_train or getattr(FLAGS, "do_eval", False) or FLAGS.do_predict):
        raise app.UsageError("nothing to do: pass --do_train, --do_eval and/or --do_predict")


def albert_config_and_tokenizer():
    """The pretrained model's config and tokenizer, from the flags or the checkpoint, checked to belong together.

    --init_checkpoint, --spm_model_file and --do_lower_case are set to what was resolved, so the job's
    flags.txt repeats it."""
    FLAGS.init_checkpoint = checkpoint_flags.hub_module_or_checkpoint()
    files = checkpoint_flags.resolve(
        FLAGS.init_checkpoint, "albert_hub_module_handle" if FLAGS.albert_hub_module_handle else "init_checkpoint")
    FLAGS.spm_model_file, FLAGS.do_lower_case = files.spm_model_file, files.do_lower_case
    albert_config = files.config
    try:
        tokenizer = albert_tf.FullTokenizer(FLAGS.spm_model_file, do_lower_case=FLAGS.do_lower_case)
    except (OSError, ValueError) as e:
        raise app.UsageError(f"--spm_model_file: {e}") from None
    if tokenizer.vocab_size != albert_config.vocab_size:
        raise app.UsageError(
            f"the SentencePiece model {FLAGS.spm_model_file} has {tokenizer.vocab_size} pieces but the ALBERT config says "
            f"vocab_size={albert_config.vocab_size}: they are not the same model's")
    return albert_config, tokenizer


def finetuning_config(num_train_steps=None, num_warmup_steps=None):
    """The job's `FinetuningConfig`; steps from --train_step/--warmup_step unless given.

    A GLUE or RACE training run that does not evaluate keeps every checkpoint unless
    --keep_checkpoint_max is given: the original kept all, and run_glue.sh's second run
    (--nodo_train --do_eval) chose the best among them.
    """
    evaluated_later = "do_eval" in FLAGS and FLAGS.do_train and not FLAGS.do_eval
    keep = 0 if evaluated_later and not FLAGS["keep_checkpoint_max"].present else FLAGS.keep_checkpoint_max
    return trainer.FinetuningConfig(
        output_dir=FLAGS.output_dir, train_batch_size=FLAGS.train_batch_size,
        eval_batch_size=getattr(FLAGS, "eval_batch_size", FLAGS.predict_batch_size),
        predict_batch_size=FLAGS.predict_batch_size, optimizer=FLAGS.optimizer, learning_rate=FLAGS.learning_rate,
        num_train_steps=num_train_steps if num_train_steps is not None else FLAGS.train_step,
        num_warmup_steps=num_warmup_steps if num_warmup_steps is not None else FLAGS.warmup_step,
        save_checkpoints_steps=FLAGS.save_checkpoints_steps, keep_checkpoint_max=keep,
        steps_per_loop=FLAGS.iterations_per_loop, init_checkpoint=FLAGS.init_checkpoint,
        mixed_precision=FLAGS.mixed_precision, jit_compile=FLAGS.jit_compile, seed=FLAGS.seed,
        dynamic_padding=FLAGS.dynamic_padding)


def create_finetuner(strategy, model_fn, loss_fn, config):
    """The job's `Finetuner`; settings it refuses are a one-line usage error."""
    try:
        return trainer.Finetuner(strategy, model_fn, loss_fn, config)
    except ValueError as e:
        raise app.UsageError(str(e)) from None


def restore_for_training(finetuner):
    """The finetuner's last checkpoint in --output_dir, else --init_checkpoint: before any data is
    read, so a checkpoint that does not fit is a one-line error up front."""
    try:
        finetuner.restore_for_training()
    except (OSError, ValueError) as e:
        resuming = finetuner.manager.latest_checkpoint is not None  # the error names --output_dir then
        raise app.UsageError(str(e) if resuming else f"--init_checkpoint: {e}") from None


def restore_for_inference(finetuner):
    """The finetuner's best (else latest, else --init_checkpoint) weights; a checkpoint that cannot
    serve is a one-line error."""
    try:
        return finetuner.restore_for_inference()
    except (FileNotFoundError, albert_tf.NonFiniteWeightsError) as e:
        raise app.UsageError(str(e)) from None


def print_summary(job, outputs=(), results=None):
    """The closing block on stdout: the job, its best checkpoint (best_trial.txt), the final
    `results` and the output files that exist."""
    lines = [f"{job} done; outputs in {FLAGS.output_dir}"]
    best_trial = os.path.join(FLAGS.output_dir, "best_trial.txt")
    if tf.io.gfile.exists(best_trial):
        with tf.io.gfile.GFile(best_trial) as f:
            step, metric, value = f.read().strip().split(":")
        lines.append(f"  best {metric} = {float(value):.4f} at step {step}: "
                     f"{os.path.join(FLAGS.output_dir, trainer.BEST_CHECKPOINT)}")
    if results:
        lines.append("  " + ", ".join(f"{key} = {value:.4f}" for key, value in results.items()))
    lines += [f"  wrote {path}" for path in (os.path.join(FLAGS.output_dir, name) for name in outputs)
              if tf.io.gfile.exists(path)]
    print("\n".join(lines))

