"""Pretraining ALBERT (masked LM + sentence order) on a `tf.distribute` strategy.

A custom loop rather than `model.fit`, to keep the original job's contract: global batch sizes,
`iterations_per_loop` steps inside one compiled call, the original's loss and metrics,
`eval_results.txt`, a best checkpoint under the original names, and exact resumption.

Read top to bottom: `run_pretraining` builds the model, optimizer, data and checkpoint, then
alternates `train_loop` calls (each `steps_per_loop` optimizer steps) with checkpointing and
evaluation.
"""

import contextlib
import dataclasses
import math
import os
import time

import keras
import tensorflow as tf
from absl import logging

from albert_tf import losses
from albert_tf.checkpoint import check_finite, load_checkpoint, save_original_checkpoint
from albert_tf.checkpoint.finite import check_before_saving
from albert_tf.checkpoint.native import restore_training_checkpoint, training_checkpoint
from albert_tf.data import pretraining_dataset
from albert_tf.data.pretraining_dataset import find_bad_record, is_bad_record
from albert_tf.models.pretrainer import AlbertPretrainer
from albert_tf.optimization import create_optimizer
from albert_tf.staging import write_text
from albert_tf.training.strategy import is_chief, warn_of_xla_bfloat16_on_cpu

EVAL_KEYS = ("global_step", "loss", "masked_lm_accuracy", "masked_lm_loss", "sentence_order_accuracy",
             "sentence_order_loss")


@dataclasses.dataclass(frozen=True)
class PretrainingConfig:
    """A pretraining job. Field names follow the original `run_pretraining.py` flags.

    Batch sizes are global (summed over replicas), as with TPUEstimator.
    `gradient_accumulation_steps` splits each global batch into that many micro-batches.
    `keep_checkpoint_max=0` keeps every checkpoint, as it did for the original's Saver.
    Without `eval_input_files`, evaluation holds out the last of the training files (see
    `job_files`).
    """

    input_files: tuple
    output_dir: str
    max_seq_length: int = 512
    max_predictions_per_seq: int = 20
    train_batch_size: int = 4096
    eval_batch_size: int = 64
    optimizer: str = "lamb"
    learning_rate: float = 0.00176
    poly_power: float = 1.0
    num_train_steps: int = 125000
    num_warmup_steps: int = 3125
    start_warmup_step: int = 0
    save_checkpoints_steps: int = 5000
    keep_checkpoint_max: int = 5
    steps_per_loop: int = 1000
    do_train: bool = True
    do_eval: bool = False
    eval_input_files: tuple = ()
    max_eval_steps: int = 100
    init_checkpoint: str = None
    init_from_group0: bool = False
    mixed_precision: str = "float32"
    jit_compile: bool = False
    gradient_accumulation_steps: int = 1
    seed: int = 12345


def validate(config, num_replicas):
    """Clear errors for a job that cannot run as configured; names the original flags."""
    per_step = num_replicas * config.gradient_accumulation_steps
    if config.train_batch_size % per_step:
        raise ValueError(
            f"--train_batch_size={config.train_batch_size} must be divisible by the number of replicas "
            f"({num_replicas}) times --gradient_accumulation_steps ({config.gradient_accumulation_steps})")
    if config.do_eval and config.eval_batch_size % num_replicas:
        raise ValueError(f"--eval_batch_size={config.eval_batch_size} must be divisible by the number of "
                         f"replicas ({num_replicas})")
    if not (math.isfinite(config.learning_rate) and config.learning_rate > 0):
        # -1 would train uphill and finish with rc=0
        raise ValueError(f"--learning_rate must be a positive number, got {config.learning_rate}")
    if config.keep_checkpoint_max < 0:
        raise ValueError(f"--keep_checkpoint_max must be >= 0 (0 keeps all), got {config.keep_checkpoint_max}")
    for name in ("num_train_steps", "steps_per_loop", "save_checkpoints_steps", "max_eval_steps",
                 "gradient_accumulation_steps", "train_batch_size", "eval_batch_size"):
        if getattr(config, name) < 1:
            raise ValueError(f"--{'iterations_per_loop' if name == 'steps_per_loop' else name} must be >= 1, "
                             f"got {getattr(config, name)}")
    if not config.do_train and not config.do_eval:
        raise ValueError("nothing to do: both --do_train and --do_eval are false")


def expand_input_files(patterns, flag):
    """Globs and comma lists → a sorted file list; an empty result is an error naming the flag."""
    files = []
    for pattern in patterns:
        for part in str(pattern).split(","):
            if part.strip():
                files.extend(tf.io.gfile.glob(part.strip()))
    if not files:
        raise FileNotFoundError(f"--{flag}={','.join(map(str, patterns))} matches no file")
    return sorted(set(files))


def job_files(config):
    """(training files, evaluation files) of a job.

    The original evaluated on its training files. Here, when no evaluation files are named, the
    last training file is held out of training for evaluation, so the metrics are held-out by
    default; a job with a single file can only evaluate on it, and says so.
    """
    if config.do_eval and config.eval_input_files:
        train_files = expand_input_files(config.input_files, "input_file") if config.do_train else []
        return train_files, expand_input_files(config.eval_input_files, "eval_input_file")
    files = expand_input_files(config.input_files, "input_file")
    if not config.do_eval:
        return files, []
    if len(files) < 2:
        logging.warning("No --eval_input_file and only one --input_file: evaluating on the training file, as "
                        "the original did. These metrics are not held-out.")
        train_files, eval_files = files, files
    else:
        logging.info("No --eval_input_file: holding %s out of training to evaluate on.", files[-1])
        train_files, eval_files = files[:-1], files[-1:]
    return (train_files if config.do_train else []), eval_files


def has_exact_resume(strategy):
    """Whether the input position can be checkpointed: one host feeding all replicas.

    `tf.distribute` iterators are not trackable, so on one host we read a local iterator
    (which is) and split each batch across the replicas. TPU and multi-worker jobs read
    distributed datasets; after a resume their shuffle is reseeded with the step instead.
    """
    return isinstance(strategy, (tf.distribute.OneDeviceStrategy, tf.distribute.MirroredStrategy))


class Pretraining:
    """The state of one pretraining job: model, optimizer, data, checkpoints, summaries.

    `model_fn(albert_config, dtype)` builds the model (default `AlbertPretrainer`); any model
    taking the pretrainer's input dict and returning `mlm_logits` and `sop_logits` trains here
    (run/benchmark.py puts keras-hub's backbone under the same heads and step this way).
    """

    def __init__(self, strategy, albert_config, config, model_fn=AlbertPretrainer):
        self.strategy = strategy
        self.albert_config = albert_config
        self.config = config
        self.num_replicas = strategy.num_replicas_in_sync
        validate(config, self.num_replicas)
        self.train_files, self.eval_files = job_files(config)
        tf.io.gfile.makedirs(config.output_dir)

        warn_of_xla_bfloat16_on_cpu(strategy, config.mixed_precision, config.jit_compile)
        keras.utils.set_random_seed(config.seed)
        with strategy.scope():
            self.model = model_fn(albert_config, dtype=config.mixed_precision)
            optimizer = create_optimizer(config.optimizer, config.learning_rate, config.num_train_steps,
                                         config.num_warmup_steps, config.start_warmup_step, config.poly_power)
            if config.mixed_precision == "mixed_float16":
                optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
            optimizer.build(self.model.trainable_variables)
            self.optimizer = optimizer

        self.exact_resume = has_exact_resume(strategy)
        self.train_iterator = self._train_iterator() if config.do_train and self.exact_resume else None
        tracked = {"optimizer": self.optimizer}
        if self.train_iterator is not None:
            tracked["train_iterator"] = self.train_iterator
        self.checkpoint = training_checkpoint(self.model, **tracked)
        # Every worker of a multi-worker job takes part in saving; only the chief's copy is kept.
        self.is_chief = is_chief(strategy)
        save_dir = config.output_dir if self.is_chief else os.path.join(
            config.output_dir, f".worker-{strategy.cluster_resolver.task_id}")
        self.manager = tf.train.CheckpointManager(
            self.checkpoint, save_dir, max_to_keep=(config.keep_checkpoint_max or None) if self.is_chief else 1,
            step_counter=self.optimizer.iterations, checkpoint_name="ckpt")
        self._restore_or_initialize()
        if config.do_train and not self.exact_resume:
            self.train_iterator = self._train_iterator()  # after the restore, to reseed with the step
        if self.is_chief:
            self.train_writer = tf.summary.create_file_writer(os.path.join(config.output_dir, "train"))
            self.eval_writer = tf.summary.create_file_writer(os.path.join(config.output_dir, "eval"))
        else:
            self.train_writer = self.eval_writer = tf.summary.create_noop_writer()

    @property
    def step(self):
        return int(self.optimizer.iterations.numpy())

    def run(self):
        """Trains and/or evaluates as the config says; returns the last eval results (or None)."""
        results = None
        if self.config.do_train:
            results = self.train()
        if self.config.do_eval and not self.config.do_train:
            results = self.evaluate()
        if not self.is_chief:
            tf.io.gfile.rmtree(self.manager.directory)
        return results

    def _restore_or_initialize(self):
        latest = tf.train.latest_checkpoint(self.config.output_dir)
        if latest:
            # Everything this job tracks must be restored; what it does not track (the input
            # position, in an eval-only job) may stay unread.
            try:
                status = restore_training_checkpoint(self.checkpoint, latest)
                status.assert_existing_objects_matched().expect_partial()
            except (AssertionError, ValueError, tf.errors.OpError) as error:
                raise ValueError(
                    f"--output_dir={self.config.output_dir} holds {latest}, which this job cannot resume: it was "
                    "written with another --albert_config_file, --optimizer or --mixed_precision (rerun with the "
                    f"flags in its flags.txt, or use a new --output_dir). {type(error).__name__}: "
                    f"{str(error)[:1000]}") from None
            check_finite(self.model.weights, f"--output_dir's last checkpoint {latest}")
            logging.info("Resumed from %s at step %d.", latest, self.step)
        elif self.config.init_checkpoint:
            load_checkpoint(self.model, self.config.init_checkpoint, allow_missing_heads=True,
                            init_from_group0=self.config.init_from_group0)
            logging.info("Initialized from %s.", self.config.init_checkpoint)

    # --- data -------------------------------------------------------------------------------

    def _dataset(self, files, global_batch_size, is_training, input_context=None, seed=None):
        accumulation = self.config.gradient_accumulation_steps if is_training else 1
        dataset = pretraining_dataset(
            files, batch_size=global_batch_size // accumulation, max_seq_length=self.config.max_seq_length,
            max_predictions_per_seq=self.config.max_predictions_per_seq, is_training=is_training,
            input_context=input_context, seed=seed, vocab_size=self.albert_config.vocab_size)
        # With accumulation, one step's micro-batches form a leading axis.
        return dataset.batch(accumulation, drop_remainder=True) if accumulation > 1 else dataset

    def _train_iterator(self):
        if self.exact_resume:
            return iter(self._dataset(self.train_files, self.config.train_batch_size, True, seed=self.config.seed))
        # Reseeded by the step at start, so a resumed multi-host job does not replay the same order.
        seed = self.config.seed + self.step

        def per_host(context):
            return self._dataset(self.train_files, context.get_per_replica_batch_size(self.config.train_batch_size)
                                 * context.num_replicas_in_sync // context.num_input_pipelines, True, context, seed)

        return iter(self.strategy.distribute_datasets_from_function(per_host))

    def _distribute(self, batch, batch_axis):
        """Splits a host batch across the replicas (the exact-resume path); else passes through."""
        if not self.exact_resume:
            return batch

        def replica_share(context):
            index, count = context.replica_id_in_sync_group, context.num_replicas_in_sync

            return tf.nest.map_structure(lambda tensor: tf.split(tensor, count, axis=batch_axis)[index], batch)

        return self.strategy.experimental_distribute_values_from_function(replica_share)

    # --- training ---------------------------------------------------------------------------

    def _losses(self, batch, training, total_weight=None, total_examples=None):
        outputs = self.model(batch, training=training)
        mlm = losses.masked_lm_loss(outputs["mlm_logits"], batch["masked_lm_ids"], batch["masked_lm_weights"],
                                    total_weight)
        sop = losses.sentence_order_loss(outputs["sop_logits"], batch["next_sentence_labels"], total_examples)
        return outputs, mlm, sop

    def _replica_train_step(self, batch):
        variables = self.model.trainable_variables
        accumulation = self.config.gradient_accumulation_steps
        loss_scaling = isinstance(self.optimizer, keras.optimizers.LossScaleOptimizer)
        # Every replica and micro-batch divides by the whole global batch's totals, so their
        # losses (and gradients) add up to the global batch's: the same for any replica count.
        total_weight = tf.distribute.get_replica_context().all_reduce(
            tf.distribute.ReduceOp.SUM, tf.reduce_sum(tf.cast(batch["masked_lm_weights"], tf.float32)))
        total_examples = self.config.train_batch_size

        @tf.function(jit_compile=self.config.jit_compile)
        def gradients(micro_batch):
            with tf.GradientTape() as tape:
                _, mlm, sop = self._losses(micro_batch, True, total_weight, total_examples)
                loss = self.optimizer.scale_loss(mlm + sop) if loss_scaling else mlm + sop
            grads = [tf.convert_to_tensor(g) for g in tape.gradient(loss, variables)]
            return grads, tf.stack([mlm, sop])

        if accumulation == 1:
            grads, stats = gradients(batch)
        else:
            # The micro-batches are the leading axis; gradients add up in float32.
            def body(i, grads, stats):
                micro_grads, micro_stats = gradients(tf.nest.map_structure(lambda t: t[i], batch))
                return i + 1, [a + g for a, g in zip(grads, micro_grads)], stats + micro_stats

            zeros = [tf.zeros(v.shape, tf.float32) for v in variables]
            _, grads, stats = tf.while_loop(lambda i, *_: i < accumulation, body,
                                            (tf.constant(0), zeros, tf.zeros([2])))

        # The optimizer sums the replicas' gradients and clips the sum to global norm 1.0, as one
        # device would (albert_tf.optimization); the loss scale, if any, comes off before that.
        self.optimizer.apply(grads, variables)
        return stats

    @tf.function
    def train_loop(self, num_steps):
        """Runs `num_steps` optimizer steps in one call; returns mean (mlm, sop) losses."""
        totals = tf.zeros([2])
        for _ in tf.range(num_steps):
            batch = self._distribute(next(self.train_iterator), batch_axis=1 if self.config.gradient_accumulation_steps > 1 else 0)
            stats = self.strategy.run(self._replica_train_step, args=(batch,))
            totals += self.strategy.reduce(tf.distribute.ReduceOp.SUM, stats, axis=None)
        return totals / tf.cast(num_steps, tf.float32)

    def train(self):
        """Trains to `num_train_steps`; returns the last eval results if evaluating, else None."""
        config = self.config
        results = None
        if config.do_eval and self.step and not self._evaluated_last_checkpoint():
            results = self.evaluate()  # the job was killed between saving and evaluating
        start_step, start_time = self.step, time.time()
        while self.step < config.num_train_steps:
            to_checkpoint = config.save_checkpoints_steps - self.step % config.save_checkpoints_steps
            num_steps = min(config.steps_per_loop, config.num_train_steps - self.step, to_checkpoint)
            loop_start = time.time()
            with self._records_checked("--input_file", self.train_files):
                mlm, sop = (float(x) for x in self.train_loop(tf.constant(num_steps)))
            if not math.isfinite(mlm + sop):
                raise FloatingPointError(
                    f"loss became {mlm + sop} before step {self.step}; stopped without saving. The last good "
                    f"checkpoint is {tf.train.latest_checkpoint(config.output_dir)}. Lower --learning_rate or "
                    "raise --num_warmup_steps, then rerun to resume from it.")
            self._log_progress(num_steps, mlm, sop, time.time() - loop_start, start_step, start_time)
            if self.step % config.save_checkpoints_steps == 0 or self.step >= config.num_train_steps:
                check_before_saving(self.model.weights + self.optimizer.variables, self.step,
                                    tf.train.latest_checkpoint(config.output_dir),
                                    "Lower --learning_rate or raise --num_warmup_steps")
                self.manager.save(checkpoint_number=self.step)
                if config.do_eval:
                    results = self.evaluate()
        if config.do_eval and results is None:
            results = self.evaluate()  # resumed at the end: nothing was trained, evaluate anyway
        return results

    @contextlib.contextmanager
    def _records_checked(self, flag, files):
        """Names the file and record that tf.data failed on, and what to do, instead of its error."""
        try:
            yield
        except (tf.errors.InvalidArgumentError, tf.errors.DataLossError) as error:
            if not is_bad_record(error):
                raise
            logging.info("A record of %s cannot be read; looking for it...", flag)
            bad = find_bad_record(files, self.config.max_seq_length, self.config.max_predictions_per_seq,
                                  self.albert_config.vocab_size)
            if bad:
                raise ValueError(f"{bad[0]}, record {bad[1]} (from 0): {bad[2]}. Rebuild the file with "
                                 f"create_pretraining_data.py, or leave it out of {flag}.") from None
            raise ValueError(f"a record of {flag} cannot be read: rebuild its file with create_pretraining_data.py. "
                             f"tf.data said: {error.message[:500]}") from None

    def _log_progress(self, num_steps, mlm, sop, seconds, start_step, start_time):
        step = self.step
        examples_per_second = num_steps * self.config.train_batch_size / seconds
        rate = (step - start_step) / max(time.time() - start_time, 1e-9)
        eta = (self.config.num_train_steps - step) / max(rate, 1e-9)
        learning_rate = float(self.optimizer.learning_rate)
        logging.info("step %d/%d  loss %.4f (mlm %.4f, sop %.4f)  lr %.3g  %.1f examples/s  ETA %s",
                     step, self.config.num_train_steps, mlm + sop, mlm, sop, learning_rate, examples_per_second,
                     time.strftime("%H:%M:%S", time.gmtime(eta)))
        with self.train_writer.as_default(step=step):
            tf.summary.scalar("loss", mlm + sop)
            tf.summary.scalar("masked_lm_loss", mlm)
            tf.summary.scalar("sentence_order_loss", sop)
            tf.summary.scalar("learning_rate", learning_rate)
            tf.summary.scalar("examples_per_second", examples_per_second)
        self.train_writer.flush()

    # --- evaluation -------------------------------------------------------------------------

    def _replica_eval_step(self, batch):
        outputs = self.model(batch, training=False)
        return losses.pretraining_metrics(outputs["mlm_logits"], batch["masked_lm_ids"], batch["masked_lm_weights"],
                                          outputs["sop_logits"], batch["next_sentence_labels"])

    @tf.function
    def eval_loop(self, iterator, num_steps):
        def step():
            sums = self.strategy.run(self._replica_eval_step, args=(self._distribute(next(iterator), 0),))
            # One reduce per metric: MultiWorkerMirroredStrategy fails to reduce a dict at once.
            return {key: self.strategy.reduce(tf.distribute.ReduceOp.SUM, value, axis=None)
                    for key, value in sums.items()}

        totals = step()
        for _ in tf.range(num_steps - 1):
            totals = tf.nest.map_structure(tf.add, totals, step())
        return totals

    def evaluate(self):
        """Evaluates `max_eval_steps` batches; writes eval_results.txt, summaries, the best checkpoint."""
        config = self.config
        if self.exact_resume:
            iterator = iter(self._dataset(self.eval_files, config.eval_batch_size, False))
        else:
            iterator = iter(self.strategy.distribute_datasets_from_function(
                lambda context: self._dataset(self.eval_files, context.get_per_replica_batch_size(
                    config.eval_batch_size) * context.num_replicas_in_sync // context.num_input_pipelines,
                    False, context)))
        with self._records_checked("--eval_input_file" if config.eval_input_files else "--input_file",
                                   self.eval_files):
            sums = self.eval_loop(iterator, tf.constant(config.max_eval_steps))
        results = {key: float(value) for key, value in losses.metric_results(sums).items()}
        # The original's "loss" averaged per-batch losses; the sum of the two loss metrics over
        # all evaluated examples is the same quantity without the dependence on batch splits.
        results.update(global_step=self.step, loss=results["masked_lm_loss"] + results["sentence_order_loss"])
        logging.info("eval at step %d: %s", self.step,
                     ", ".join(f"{k} = {v:.4f}" for k, v in results.items() if k != "global_step"))
        if not self.is_chief:
            return results
        best_file = os.path.join(config.output_dir, "best_eval_results.txt")
        best = read_eval_results(best_file) if tf.io.gfile.exists(best_file) else None
        finite = all(math.isfinite(value) for value in results.values())
        if finite and (best is None or results["masked_lm_accuracy"] > best["masked_lm_accuracy"]):
            save_original_checkpoint(self.model, os.path.join(config.output_dir, "model.ckpt-best"),
                                     global_step=self.step)
            write_eval_results(best_file, results)
        # Last: its step says this evaluation is done, so a job killed before it evaluates again.
        write_eval_results(os.path.join(config.output_dir, "eval_results.txt"), results)
        with self.eval_writer.as_default(step=self.step):
            for key, value in results.items():
                if key != "global_step":
                    tf.summary.scalar(key, value)
        self.eval_writer.flush()
        return results

    def _evaluated_last_checkpoint(self):
        path = os.path.join(self.config.output_dir, "eval_results.txt")
        return tf.io.gfile.exists(path) and read_eval_results(path)["global_step"] == self.step


def write_eval_results(path, results):
    """The original's `eval_results.txt`: one `key = value` line per metric."""
    write_text(path, "".join(f"{key} = {results[key]}\n" for key in EVAL_KEYS))


def read_eval_results(path):
    results = {}
    with tf.io.gfile.GFile(path) as f:
        for line in f:
            key, value = (part.strip() for part in line.split("=", 1))
            results[key] = int(value) if key == "global_step" else float(value)
    return results


def run_pretraining(strategy, albert_config, config):
    """Trains and/or evaluates as `config` says; returns the last eval results (or None)."""
    return Pretraining(strategy, albert_config, config).run()
