"""Benchmarks, each a subcommand; every figure is a ratio against a peer measured in the same run.

    python run/benchmark.py model --config=run/configs/albert_base.json --batch=8 --seq=128 --peer=keras_hub

`model` times a forward pass and a training step (forward + backward + optimizer update) of
our `AlbertEncoder` and of keras-hub's `AlbertBackbone` built from the same config, for each
dtype policy and XLA setting asked for. Runs alternate between the models so that drift in
the machine's speed falls on both; the median is reported. keras-hub is an optional extra
(`pip install -e .[bench]`).
"""

import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import tensorflow as tf
from absl import app, flags

import albert_tf

flags.DEFINE_string("config", "run/configs/albert_base.json", "albert_config.json of the model to time.")
flags.DEFINE_integer("batch", 8, "Sequences per step.")
flags.DEFINE_integer("seq", 128, "Sequence length.")
flags.DEFINE_enum("peer", "keras_hub", ["keras_hub", "none"], "Implementation to compare with.")
flags.DEFINE_list("dtypes", ["float32", "mixed_bfloat16"], "Keras dtype policies to time.")
flags.DEFINE_list("jit_compile", ["false", "true"], "XLA settings to time.")
flags.DEFINE_integer("rounds", 3, "Rounds over all models; each round times every function.")
flags.DEFINE_integer("calls", 3, "Timed calls per function and round, after one untimed call.")
FLAGS = flags.FLAGS


def ours(config, dtype):
    model = albert_tf.AlbertEncoder(config, dtype=dtype)

    def inputs(ids, mask, types):
        return {"input_word_ids": ids, "input_mask": mask, "input_type_ids": types}

    return model, inputs


def keras_hub_backbone(config, dtype):
    import keras_hub

    model = keras_hub.models.AlbertBackbone(
        vocabulary_size=config.vocab_size, num_layers=config.num_hidden_layers, num_heads=config.num_attention_heads,
        embedding_dim=config.embedding_size, hidden_dim=config.hidden_size, intermediate_dim=config.intermediate_size,
        num_groups=config.num_hidden_groups, num_inner_repetitions=config.inner_group_num,
        dropout=config.hidden_dropout_prob, max_sequence_length=config.max_position_embeddings,
        num_segments=config.type_vocab_size, dtype=dtype)

    def inputs(ids, mask, types):
        return {"token_ids": ids, "padding_mask": mask, "segment_ids": types}

    return model, inputs


def step_functions(model, jit_compile):
    """(forward, train_step) as tf.functions; the loss only gives backward something to do."""
    optimizer = keras.optimizers.Adam(1e-5)
    optimizer.build(model.trainable_variables)

    def loss_of(outputs):
        return (tf.reduce_mean(tf.square(tf.cast(outputs["sequence_output"], tf.float32)))
                + tf.reduce_mean(tf.square(tf.cast(outputs["pooled_output"], tf.float32))))

    @tf.function(jit_compile=jit_compile)
    def forward(inputs):
        return loss_of(model(inputs, training=False))

    @tf.function(jit_compile=jit_compile)
    def train_step(inputs):
        with tf.GradientTape() as tape:
            loss = loss_of(model(inputs, training=True))
        optimizer.apply(tape.gradient(loss, model.trainable_variables), model.trainable_variables)
        return loss

    return forward, train_step


def seconds_per_call(function, inputs):
    start = time.perf_counter()
    function(inputs).numpy()
    return time.perf_counter() - start


def benchmark_model():
    config = albert_tf.AlbertConfig.from_json_file(FLAGS.config)
    rng = np.random.default_rng(0)
    ids = tf.constant(rng.integers(5, config.vocab_size, (FLAGS.batch, FLAGS.seq)), tf.int32)
    mask = tf.ones_like(ids)
    types = tf.constant((np.arange(FLAGS.seq) >= FLAGS.seq // 2)[None].repeat(FLAGS.batch, 0), tf.int32)
    builders = {"albert_tf": ours}
    if FLAGS.peer == "keras_hub":
        builders["keras_hub"] = keras_hub_backbone

    print(f"config={FLAGS.config} batch={FLAGS.batch} seq={FLAGS.seq} threads={os.cpu_count()} "
          f"tf={tf.__version__} keras={keras.__version__}")
    print(f"{'dtype':<16}{'xla':<6}{'model':<11}{'forward seq/s':>15}{'train seq/s':>13}")
    for dtype in FLAGS.dtypes:
        for jit in (value.lower() == "true" for value in FLAGS.jit_compile):
            timed = {}
            for name, build in builders.items():
                model, to_inputs = build(config, dtype)
                timed[name] = (step_functions(model, jit), to_inputs(ids, mask, types), [[], []])
            for _ in range(FLAGS.rounds):
                for functions, inputs, times in timed.values():
                    for function, samples in zip(functions, times):
                        function(inputs).numpy()
                        samples.extend(seconds_per_call(function, inputs) for _ in range(FLAGS.calls))
            rates = {name: [FLAGS.batch / statistics.median(samples) for samples in times]
                     for name, (_, _, times) in timed.items()}
            for name, (forward_rate, train_rate) in rates.items():
                print(f"{dtype:<16}{'on' if jit else 'off':<6}{name:<11}{forward_rate:>15.2f}{train_rate:>13.2f}")
            if "keras_hub" in rates:
                ratio = [a / b for a, b in zip(rates["albert_tf"], rates["keras_hub"])]
                print(f"{dtype:<16}{'on' if jit else 'off':<6}{'ratio':<11}{ratio[0]:>14.2f}x{ratio[1]:>12.2f}x")
            sys.stdout.flush()


def main(argv):
    commands = {"model": benchmark_model}
    if len(argv) != 2 or argv[1] not in commands:
        raise app.UsageError(f"usage: benchmark.py {{{'|'.join(commands)}}} [--flags]")
    commands[argv[1]]()


if __name__ == "__main__":
    app.run(main)
