"""The fine-tuning loop shared by GLUE, SQuAD and RACE, on any `tf.distribute` strategy.

A task supplies a model, a per-example loss and, for evaluation, a function from the model's
outputs on the eval set to metrics; this module does the rest the way the original scripts'
Estimators did (global batch sizes, AdamW/LAMB with warmup and linear decay, a checkpoint every
`save_checkpoints_steps`, an evaluation of each checkpoint, the best one kept as
`model.ckpt-best`), plus resumption, progress logs and TensorBoard summaries.

Unlike the original, evaluation and prediction never wait for checkpoints to appear: an
eval- or predict-only run uses the checkpoints that exist (the original polled until a
checkpoint reached the train step count, so a predict-only run could loop forever).

Dynamic padding (`FinetuningConfig.dynamic_padding`, on by default, off on TPUs): every batch is
cut to its longest row rounded up to a multiple of `PAD_MULTIPLE` tokens, since GLUE sentences
are far shorter than `max_seq_length`. The attention mask gives padded keys a weight of exactly
zero, so real positions' outputs equal those of fixed padding up to float rounding (evaluation
and prediction keep their order and their metrics). Training also groups examples of similar
length: each window of `BUCKET_WINDOW_BATCHES` batches of the shuffled stream is sorted by length,
cut into batches and those are shuffled. Every example is still seen once per epoch in a random
order of batches, so training is the same in expectation as with fixed padding but not
bit-identical (other examples share a batch); it stays deterministic and exactly resumable.
"""

import dataclasses
import math
import os
import time

import keras
import numpy as np
import tensorflow as tf
from absl import logging

from albert_tf.checkpoint import check_finite, load_checkpoint
from albert_tf.checkpoint.finite import check_before_saving
from albert_tf.checkpoint.native import restore_training_checkpoint, training_checkpoint
from albert_tf.optimization import create_optimizer
from albert_tf.progress import logged_progress
from albert_tf.staging import write_text
from albert_tf.training.strategy import warn_of_xla_bfloat16_on_cpu

BEST_CHECKPOINT = "model.ckpt-best"
SHUFFLE_BUFFER = 10000
# Features with a token axis (the last), cut by dynamic padding; the rest (labels, answer
# positions) are per example.
TOKEN_FEATURES = ("input_word_ids", "input_mask", "input_type_ids", "p_mask")
# Padded lengths are multiples of this: a few shapes, so few tf.function traces and XLA programs.
PAD_MULTIPLE = 16
# Training sorts by length within this many batches: more makes batches more uniform in length,
# and longer-range the correlation of an example with its batch mates.
BUCKET_WINDOW_BATCHES = 32
# What a model's per-token scores (SQuAD logits) read at positions that dynamic padding cut: the
# score of a position that cannot be an answer, so no ranking picks one.
CUT_POSITION_SCORE = -1e30


@dataclasses.dataclass(frozen=True)
class FinetuningConfig:
    """A fine-tuning job; names follow the original scripts' flags. Batch sizes are global."""

    output_dir: str
    train_batch_size: int = 32
    eval_batch_size: int = 8
    predict_batch_size: int = 8
    optimizer: str = "adamw"
    learning_rate: float = 5e-5
    num_train_steps: int = 1000
    num_warmup_steps: int = 0
    save_checkpoints_steps: int = 1000
    keep_checkpoint_max: int = 5  # 0 keeps every checkpoint
    steps_per_loop: int = 1000
    init_checkpoint: str = None
    mixed_precision: str = "float32"
    jit_compile: bool = False
    seed: int = 12345
    dynamic_padding: bool = True  # ignored on a TPUStrategy, which needs static shapes


def validate(config, num_replicas):
    for name in ("train_batch_size", "eval_batch_size", "predict_batch_size"):
        if getattr(config, name) < 1 or getattr(config, name) % num_replicas:
            raise ValueError(f"--{name}={getattr(config, name)} must be a positive multiple of the number of "
                             f"replicas ({num_replicas})")
    for name in ("num_train_steps", "save_checkpoints_steps", "steps_per_loop"):
        if getattr(config, name) < 1:
            flag = "iterations_per_loop" if name == "steps_per_loop" else name
            raise ValueError(f"--{flag} must be >= 1, got {getattr(config, name)}")
    if config.num_warmup_steps < 0:
        raise ValueError(f"the number of warmup steps must be >= 0, got {config.num_warmup_steps}")
    if not (math.isfinite(config.learning_rate) and config.learning_rate > 0):
        # -1 would train uphill and finish with rc=0
        raise ValueError(f"--learning_rate must be a positive number, got {config.learning_rate}")
    if config.keep_checkpoint_max < 0:
        raise ValueError(f"--keep_checkpoint_max must be >= 0 (0 keeps all), got {config.keep_checkpoint_max}")


def padded_length(input_mask):
    """The length a batch is cut to: its longest row (last real token) rounded up to a multiple of
    `PAD_MULTIPLE`, at most the features' length. `input_mask` [B, (choices,) T]."""
    max_length = tf.shape(input_mask, out_type=tf.int64)[-1]
    positions = tf.range(1, max_length + 1)
    longest = tf.reduce_max(tf.cast(input_mask, tf.int64) * positions)
    return tf.minimum(tf.maximum(-(-longest // PAD_MULTIPLE), 1) * PAD_MULTIPLE, max_length)


def trim_batch(batch):
    """The batch without the padding columns past `padded_length`."""
    length = padded_length(batch["input_mask"])
    return {name: value[..., :length] if name in TOKEN_FEATURES else value for name, value in batch.items()}


def _example_lengths(input_mask):
    """Real tokens per example [N] of `input_mask` [N, (choices,) T]; of a multiple-choice example,
    its longest choice's."""
    lengths = tf.reduce_sum(tf.cast(input_mask, tf.int32), axis=-1)
    return tf.reduce_max(tf.reshape(lengths, [tf.shape(lengths)[0], -1]), axis=1)


class Finetuner:
    """Model, optimizer and checkpoints of one fine-tuning job.

    Args:
        strategy: a `tf.distribute.Strategy`.
        model_fn: `model_fn(dtype)` → the task's Keras model (built under the strategy).
        loss_fn: `loss_fn(outputs, batch)` → float32 per-example losses [B]; the training loss is
            their sum over the global batch divided by its size, so it does not depend on the
            number of replicas.
        config: a `FinetuningConfig`.
    """

    def __init__(self, strategy, model_fn, loss_fn, config):
        self.strategy = strategy
        self.loss_fn = loss_fn
        self.config = config
        validate(config, strategy.num_replicas_in_sync)
        self.dynamic_padding = config.dynamic_padding and not isinstance(strategy, tf.distribute.TPUStrategy)
        if config.dynamic_padding and not self.dynamic_padding:
            logging.info("Fixed padding to max_seq_length: a TPU needs static shapes.")
        tf.io.gfile.makedirs(config.output_dir)
        warn_of_xla_bfloat16_on_cpu(strategy, config.mixed_precision, config.jit_compile)
        keras.utils.set_random_seed(config.seed)
        with strategy.scope():
            self.model = model_fn(config.mixed_precision)
            optimizer = create_optimizer(config.optimizer, config.learning_rate, config.num_train_steps,
                                         config.num_warmup_steps)
            if config.mixed_precision == "mixed_float16":
                optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
            optimizer.build(self.model.trainable_variables)
            self.optimizer = optimizer
        self.checkpoint = training_checkpoint(self.model, optimizer=self.optimizer)
        self.manager = tf.train.CheckpointManager(self.checkpoint, config.output_dir,
                                                  max_to_keep=config.keep_checkpoint_max or None,
                                                  step_counter=self.optimizer.iterations, checkpoint_name="ckpt")
        self.writer = tf.summary.create_file_writer(config.output_dir)
        self._train_loop = None
        self._restored_for_training = False

    @property
    def step(self):
        return int(self.optimizer.iterations.numpy())

    # --- checkpoints ------------------------------------------------------------------------

    def restore_for_training(self):
        """Resumes from the last checkpoint in output_dir, else starts from `init_checkpoint`.

        `train` calls it unless it was called before: a job can learn that its checkpoint cannot
        be resumed before it writes anything."""
        latest = self.manager.latest_checkpoint
        if latest:
            try:
                status = restore_training_checkpoint(self.checkpoint, latest)
                status.assert_existing_objects_matched()
            except (AssertionError, ValueError, tf.errors.OpError) as error:
                raise ValueError(
                    f"--output_dir={self.config.output_dir} holds {latest}, which this job cannot resume: it was "
                    "written for another model, task or --optimizer (rerun with the flags in its flags.txt, or use a "
                    f"new --output_dir). {type(error).__name__}: {str(error)[:1000]}") from None
            check_finite(self.model.weights, f"--output_dir's last checkpoint {latest}")
            logging.info("Resumed from %s at step %d.", latest, self.step)
        elif self.config.init_checkpoint:
            load_checkpoint(self.model, self.config.init_checkpoint, allow_missing_heads=True)
            logging.info("Initialized from %s.", self.config.init_checkpoint)
        else:
            logging.warning("No --init_checkpoint: fine-tuning from random initialization; expect results near "
                            "chance (the original's issue #132).")
        self._restored_for_training = True

    def restore_for_inference(self):
        """Loads the best checkpoint, else the last one, else `init_checkpoint`; returns its path.

        Nothing is waited for: without any of them this is an error, as are weights that are not
        finite (`NonFiniteWeightsError`).
        """
        best = os.path.join(self.config.output_dir, BEST_CHECKPOINT)
        if tf.io.gfile.exists(best + ".index"):
            path = best
        elif self.manager.latest_checkpoint:
            path = self.manager.latest_checkpoint
        elif self.config.init_checkpoint:
            path = self.config.init_checkpoint
        else:
            raise FileNotFoundError(f"nothing to predict with: {self.config.output_dir} has no checkpoint and no "
                                    "--init_checkpoint was given (train first with --do_train)")
        load_checkpoint(self.model, path)
        logging.info("Predicting with %s.", path)
        return path

    # --- training ---------------------------------------------------------------------------

    def _replica_train_step(self, batch):
        unused = {id(variable) for variable in getattr(self.model, "unused_variables", ())}
        variables = [variable for variable in self.model.trainable_variables if id(variable) not in unused]
        loss_scaling = isinstance(self.optimizer, keras.optimizers.LossScaleOptimizer)

        @tf.function(jit_compile=self.config.jit_compile)
        def gradients(batch):
            with tf.GradientTape() as tape:
                per_example = self.loss_fn(self.model(batch, training=True), batch)
                loss = tf.reduce_sum(per_example) / self.config.train_batch_size
                scaled = self.optimizer.scale_loss(loss) if loss_scaling else loss
            # Dense, as in pretraining: the embedding's sparse gradient has as many rows as the
            # batch has tokens, so with dynamic padding its shape changes from step to step, and
            # the replicas' gather of it (one collective for every step of a loop) fails on that.
            return [tf.convert_to_tensor(g) for g in tape.gradient(scaled, variables)], loss

        grads, loss = gradients(batch)
        self.optimizer.apply(grads, variables)
        return loss

    def _make_train_loop(self):
        @tf.function
        def train_loop(iterator, num_steps):
            total = tf.constant(0.0)
            for _ in tf.range(num_steps):
                loss = self.strategy.run(self._replica_train_step, args=(next(iterator),))
                total += self.strategy.reduce(tf.distribute.ReduceOp.SUM, loss, axis=None)
            return total / tf.cast(num_steps, tf.float32)

        return train_loop

    def train(self, train_features, evaluate=None, selection_metric=None):
        """Trains to `num_train_steps` on a dataset of unbatched feature dicts.

        After every checkpoint, `evaluate()` (if given) returns a metrics dict; it is logged,
        appended to eval_results.txt, and the checkpoint with the highest `selection_metric` is
        kept as `model.ckpt-best` (its step in best_trial.txt).
        """
        config = self.config
        if not self._restored_for_training:
            self.restore_for_training()
        if evaluate is not None and self.manager.latest_checkpoint and self.step not in self._evaluated_steps():
            self._evaluate_checkpoint(evaluate, selection_metric)  # the job was killed between saving and evaluating
        dataset = self._training_batches(train_features)
        iterator = iter(self.strategy.experimental_distribute_dataset(dataset.prefetch(tf.data.AUTOTUNE)))
        self._train_loop = self._train_loop or self._make_train_loop()
        start_step, start_time = self.step, time.time()
        while self.step < config.num_train_steps:
            to_checkpoint = config.save_checkpoints_steps - self.step % config.save_checkpoints_steps
            num_steps = min(config.steps_per_loop, config.num_train_steps - self.step, to_checkpoint)
            loop_start = time.time()
            loss = float(self._train_loop(iterator, tf.constant(num_steps)))
            if not math.isfinite(loss):
                raise FloatingPointError(
                    f"loss became {loss} before step {self.step}; stopped without saving. Lower --learning_rate or "
                    "raise the warmup, then rerun to resume from the last checkpoint.")
            self._log_progress(num_steps, loss, time.time() - loop_start, start_step, start_time)
            if self.step % config.save_checkpoints_steps == 0 or self.step >= config.num_train_steps:
                check_before_saving(self.model.weights + self.optimizer.variables, self.step,
                                    self.manager.latest_checkpoint, "Lower --learning_rate or raise the warmup")
                self.manager.save(checkpoint_number=self.step)
                if evaluate is not None:
                    self._evaluate_checkpoint(evaluate, selection_metric)

    def _training_batches(self, features):
        """The training batches in the order an uninterrupted job reads them, from where this step is.

        Epoch e is `features` shuffled with seed + e; a resumed job skips what its steps consumed,
        so it trains on the same batches as a job that was never stopped. With dynamic padding the
        stream is cut into windows of batches sorted by length (see the module's docstring); a
        resumed job skips whole windows of examples, then the batches of its window already done.
        """
        batch_size = self.config.train_batch_size
        count = int(features.reduce(0, lambda n, _: n + 1))
        if count == 0:
            raise ValueError("no training examples")
        if not (self.dynamic_padding and "input_mask" in features.element_spec):
            epoch, offset = divmod(self.step * batch_size, count)
            return self._stream(features, epoch).skip(offset).batch(batch_size, drop_remainder=True)
        # At most an epoch's examples: only a window that straddles two epochs can hold an example twice.
        window = min(BUCKET_WINDOW_BATCHES, max(1, count // batch_size))
        windows_done, batches_done = divmod(self.step, window)
        epoch, offset = divmod(windows_done * window * batch_size, count)
        windows = self._stream(features, epoch).skip(offset).batch(window * batch_size, drop_remainder=True)

        def length_sorted_batches(index, examples):
            order = tf.argsort(_example_lengths(examples["input_mask"]), stable=True)
            batches = {name: tf.reshape(tf.gather(value, order), tf.concat([[window, batch_size],
                                                                            tf.shape(value)[1:]], 0))
                       for name, value in examples.items()}
            # Sorted batches would run from short to long in each window; seeded by the window's
            # index, their order is the same on resuming.
            shuffled = tf.argsort(tf.random.stateless_uniform([window], seed=[self.config.seed, index]))
            return tf.data.Dataset.from_tensor_slices({name: tf.gather(value, shuffled)
                                                       for name, value in batches.items()})

        return (windows.enumerate(windows_done).flat_map(length_sorted_batches).skip(batches_done)
                .map(trim_batch, num_parallel_calls=tf.data.AUTOTUNE))

    def _stream(self, features, epoch):
        """The examples of every epoch from `epoch` on, each shuffled with seed + its number."""
        epochs = tf.data.Dataset.range(epoch, tf.int64.max)
        return epochs.flat_map(lambda e: features.shuffle(SHUFFLE_BUFFER, seed=self.config.seed + e))

    def _evaluated_steps(self):
        path = os.path.join(self.config.output_dir, "eval_results.txt")
        if not tf.io.gfile.exists(path):
            return set()
        with tf.io.gfile.GFile(path) as f:
            return {int(line.split("=")[1]) for line in f if line.startswith("global_step")}

    def _log_progress(self, num_steps, loss, seconds, start_step, start_time):
        rate = (self.step - start_step) / max(time.time() - start_time, 1e-9)
        eta = (self.config.num_train_steps - self.step) / max(rate, 1e-9)
        learning_rate = float(self.optimizer.learning_rate)
        examples_per_second = num_steps * self.config.train_batch_size / seconds
        logging.info("step %d/%d  loss %.4f  lr %.3g  %.1f steps/s  %.1f examples/s  ETA %s", self.step,
                     self.config.num_train_steps, loss, learning_rate, num_steps / seconds, examples_per_second,
                     time.strftime("%H:%M:%S", time.gmtime(eta)))
        with self.writer.as_default(step=self.step):
            tf.summary.scalar("train/loss", loss)
            tf.summary.scalar("train/learning_rate", learning_rate)
            tf.summary.scalar("train/examples_per_second", examples_per_second)
        self.writer.flush()

    # --- evaluation and prediction ----------------------------------------------------------

    def evaluate_all_checkpoints(self, evaluate, selection_metric):
        """An eval-only run: evaluates every checkpoint in output_dir in step order, once."""
        checkpoints = self.manager.checkpoints
        if not checkpoints:
            if not self.config.init_checkpoint:
                raise FileNotFoundError(f"nothing to evaluate: {self.config.output_dir} has no checkpoint and no "
                                        "--init_checkpoint was given")
            load_checkpoint(self.model, self.config.init_checkpoint)
            return self._evaluate_checkpoint(evaluate, selection_metric)
        results = None
        for path in checkpoints:
            restore_training_checkpoint(self.checkpoint, path).assert_existing_objects_matched()
            results = self._evaluate_checkpoint(evaluate, selection_metric)
        return results

    def _evaluate_checkpoint(self, evaluate, selection_metric):
        results = {"global_step": self.step, **evaluate()}
        logging.info("eval at step %d: %s", self.step,
                     ", ".join(f"{k} = {v:.4f}" for k, v in results.items() if k != "global_step"))
        self._keep_if_best(results, selection_metric)
        # Last: a step in eval_results.txt is done, so a job killed before this evaluates it again.
        eval_file = os.path.join(self.config.output_dir, "eval_results.txt")
        earlier = tf.io.gfile.GFile(eval_file).read() if tf.io.gfile.exists(eval_file) else ""
        write_text(eval_file, earlier + "".join(f"{key} = {value}\n" for key, value in results.items()))
        with self.writer.as_default(step=self.step):
            for key, value in results.items():
                if key != "global_step":
                    tf.summary.scalar(f"eval/{key}", value)
        self.writer.flush()
        return results

    def _keep_if_best(self, results, selection_metric):
        best_file = os.path.join(self.config.output_dir, "best_trial.txt")
        best_value = -math.inf
        if tf.io.gfile.exists(best_file):
            with tf.io.gfile.GFile(best_file) as f:
                best_value = float(f.read().strip().split(":")[-1])
        # A diverged model still "scores" (the majority class, say); its non-finite loss shows it.
        finite = all(math.isfinite(value) for value in results.values())
        if not finite:
            logging.warning("eval at step %d has non-finite results; this checkpoint cannot become the best.",
                            self.step)
        if finite and results[selection_metric] > best_value:
            tf.train.Checkpoint(model=self.model).write(os.path.join(self.config.output_dir, BEST_CHECKPOINT))
            write_text(best_file, f"{self.step}:{selection_metric}:{results[selection_metric]}\n")

    def predict(self, features, batch_size):
        """The model's outputs on a dataset of unbatched feature dicts, as NumPy arrays in order.

        The last batch is padded to a full global batch (every replica gets the same shape) and
        the padding is dropped from the results. With dynamic padding, an output with a token axis
        comes back at the features' full length, `CUT_POSITION_SCORE` where a batch was cut.
        """
        count = int(features.reduce(0, lambda n, _: n + 1))
        if count == 0:
            raise ValueError("no examples to predict on")
        padding = (-count) % batch_size
        padded = features.concatenate(features.take(1).repeat(padding)) if padding else features
        batched = padded.batch(batch_size, drop_remainder=True)
        full_length = None
        if self.dynamic_padding and "input_mask" in features.element_spec:
            full_length = features.element_spec["input_mask"].shape[-1]
            batched = batched.map(trim_batch, num_parallel_calls=tf.data.AUTOTUNE)
        batches = self.strategy.experimental_distribute_dataset(batched.prefetch(tf.data.AUTOTUNE))

        # One trace for every padded length: the signature leaves the token axis unknown.
        @tf.function(input_signature=[batches.element_spec])
        def step(batch):
            return self.strategy.run(lambda b: self.model(b, training=False), args=(batch,))

        # Token axes: past the batch axis, unknown to the trace and as long as the batch's tokens.
        unknown_axes = {key: [axis for axis, size in enumerate(self.strategy.experimental_local_results(value)[0].shape)
                              if axis and size is None]
                        for key, value in step.get_concrete_function().structured_outputs.items()}

        def to_full_length(key, array, length):
            token_axes = [axis for axis in unknown_axes[key] if array.shape[axis] == length]
            if not (full_length and token_axes):
                return array
            widths = [(0, full_length - size if axis in token_axes else 0) for axis, size in enumerate(array.shape)]
            return np.pad(array, widths, constant_values=CUT_POSITION_SCORE)

        parts, start_time = [], time.time()
        for batch in logged_progress(batches, "predicted batches", total=(count + padding) // batch_size):
            outputs = step(batch)
            length = self.strategy.experimental_local_results(batch["input_mask"])[0].shape[-1]
            parts.append({key: to_full_length(key, np.concatenate(
                [np.asarray(t) for t in self.strategy.experimental_local_results(value)]), length)
                for key, value in outputs.items()})
        seconds = time.time() - start_time
        logging.info("predicted %d examples in %.1f s (%.1f examples/s, %s padding)", count, seconds,
                     count / max(seconds, 1e-9), "dynamic" if full_length else "fixed")
        return {key: np.concatenate([part[key] for part in parts])[:count] for key in parts[0]}
