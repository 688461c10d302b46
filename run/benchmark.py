"""Benchmarks, each a subcommand; every figure is a ratio against a peer measured in the same run.

    python run/benchmark.py model --config=run/configs/albert_base.json --batch=8 --seq=128 --peer=keras_hub
    python run/benchmark.py train --flagfile=run/flags/quickstart.flags --peer=keras_hub --curve_steps=200
    python run/benchmark.py data --data_corpus_mb=50 --data_seq=128 --data_dupe_factor=2
    python run/benchmark.py data --data_corpus_mb=3 --data_seq=128 --data_dupe_factor=10 \
        --original_tool=PATH/albert/create_pretraining_data.py
    python run/benchmark.py serve --export_dir=exports/sst2/1
    python run/benchmark.py litert --config=run/configs/albert_base.json --seq=128 \
        --sst2_checkpoint=tfrecords/sst2_output/model.ckpt-best --squad_checkpoint=tfrecords/squad1_output/model.ckpt-best

`model` times a forward pass and a training step (forward + backward + optimizer update) of
our `AlbertEncoder` and of keras-hub's `AlbertBackbone` built from the same config, for each
dtype policy and XLA setting asked for. Runs alternate between the models so that drift in
the machine's speed falls on both; the median is reported. keras-hub is an optional extra
(`pip install -e .[bench]`).
"""

import dataclasses
import json
import math
import multiprocessing
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
from absl import app, flags

import startup  # noqa: I001  (first: quiet start-up, TensorFlow after the flags)
import albert_tf
import pretrain  # the pretraining flags, for `train`

keras = startup.lazy_import("keras")
tf = startup.lazy_import("tensorflow")
pretraining_dataset = startup.lazy_function("albert_tf.data", "pretraining_dataset")
InstanceConfig = startup.lazy_function("albert_tf.data.pretraining_instances", "InstanceConfig")
PretrainingDataConfig = startup.lazy_function("albert_tf.data.pretraining_writer", "PretrainingDataConfig")
write_pretraining_data = startup.lazy_function("albert_tf.data.pretraining_writer", "write_pretraining_data")
MaskedLMHead = startup.lazy_function("albert_tf.layers", "MaskedLMHead")
SentenceOrderHead = startup.lazy_function("albert_tf.layers", "SentenceOrderHead")
Pretraining = startup.lazy_function("albert_tf.training.pretraining", "Pretraining")
expand_input_files = startup.lazy_function("albert_tf.training.pretraining", "expand_input_files")

flags.DEFINE_string("config", "run/configs/albert_base.json", "albert_config.json of the model to time.")
flags.DEFINE_integer("batch", 8, "Sequences per step.")
flags.DEFINE_integer("seq", 128, "Sequence length.")
flags.DEFINE_enum("peer", "keras_hub", ["keras_hub", "none"], "Implementation to compare with.")
flags.DEFINE_list("dtypes", ["float32", "mixed_bfloat16"], "Keras dtype policies to time.")
flags.DEFINE_list("xla", ["false", "true"], "XLA settings to time (jit_compile).")
flags.DEFINE_integer("rounds", 3, "Rounds over all models; each round times every function.")
flags.DEFINE_integer("calls", 3, "Timed calls per function and round, after one untimed call.")
flags.DEFINE_integer("steps", 5, "train: optimizer steps per timed call.")
flags.DEFINE_integer("curve_steps", 0, "train: also compare float32 and mixed_bfloat16 loss over this many steps.")
flags.DEFINE_bool("profile", False, "model, train: also profile each model's training step and print where its op "
                  "time goes, by op type and by layer; model with XLA (whose fused programs hide the ops): the "
                  "FLOPs of the compiled step's matrix products by the type they are computed in, and their "
                  "share of its kernel time.")
flags.DEFINE_string("corpus", "tfrecords/sample/botchan_corpus.txt", "data: text to turn into records.")
flags.DEFINE_string("spm_model", "tfrecords/sample/botchan.model", "data: SentencePiece model.")
flags.DEFINE_integer("data_seq", 512, "data: max_seq_length of the records and of the pipeline's batches.")
flags.DEFINE_integer("data_batch", 64, "data: pipeline batch size.")
flags.DEFINE_integer("data_dupe_factor", 5, "data: passes over the corpus of the whole run; at least 2. Each tool "
                     "also runs with one pass: the steady state is the difference between the two runs, the "
                     "passes after the first, without the start-up and the tokenizing.")
flags.DEFINE_float("data_corpus_mb", 0, "data: if set, the text is about this many MB of --corpus's documents, "
                   "repeated in shuffled orders (a corpus big enough for the steady state to show).")
flags.DEFINE_string("original_tool", None,
                    "data: the original release's create_pretraining_data.py (in a google-research/albert "
                    "checkout, next to its tokenization.py), timed as the peer: both tools run as commands "
                    "with the same flags, the original in its one process.")
flags.DEFINE_string("export_dir", None, "serve: a versioned export of run/export_saved_model.py (e.g. DIR/1).")
flags.DEFINE_integer("serve_requests", 200, "serve: timed requests per signature and batch size.")
flags.DEFINE_string("compare_export_dir", None, "serve: a second export of the same checkpoint (e.g. "
                    "--serving_dtype=bfloat16), whose raw-string signature is timed beside --export_dir's and, "
                    "for a classifier, compared with it on --dev_file: largest probability difference and "
                    "label agreement.")
flags.DEFINE_string("dev_file", "tfrecords/sample/glue/SST-2/dev.tsv",
                    "serve: sentences (a GLUE TSV's `sentence` column) on which --compare_export_dir is compared.")
flags.DEFINE_integer("litert_calls", 50, "litert: timed batch-1 calls per runtime and quantization.")
flags.DEFINE_string("sst2_checkpoint", None, "litert: a classifier fine-tuned on the SST-2 sample (README), whose "
                    "quantized files are scored on the sample dev set.")
flags.DEFINE_string("squad_checkpoint", None, "litert: a SQuAD 1.1 model fine-tuned on the sample (README), whose "
                    "quantized files are scored on the sample dev set.")
flags.DEFINE_string("sample_config", "run/configs/albert_tiny.json", "litert: config of the sample checkpoints.")
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


def keras_hub_pretrainer_class():
    """`KerasHubPretrainer` (a class made when first needed, to import keras then)."""

    class KerasHubPretrainer(keras.Model):
        """keras-hub's AlbertBackbone under our MLM and SOP heads, to time the same pretraining step."""

        def __init__(self, config, dtype=None):
            super().__init__(dtype=dtype)
            self.backbone, self.backbone_inputs = keras_hub_backbone(config, dtype)
            self.masked_lm_head = MaskedLMHead(config.vocab_size, config.hidden_size, config.embedding_size,
                                               config.hidden_act, config.initializer_range)
            self.sentence_order_head = SentenceOrderHead(config.hidden_size, config.initializer_range)
            self.masked_lm_head.build()
            self.sentence_order_head.build()

        def call(self, inputs, training=None):
            outputs = self.backbone(self.backbone_inputs(inputs["input_word_ids"], inputs["input_mask"],
                                                         inputs["input_type_ids"]), training=training)
            masked_output = tf.gather(outputs["sequence_output"], inputs["masked_lm_positions"], batch_dims=1)
            return {"mlm_logits": self.masked_lm_head(masked_output, self.backbone.token_embedding.embeddings),
                    "sop_logits": self.sentence_order_head(outputs["pooled_output"])}

    return KerasHubPretrainer


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


# The profiler's event for one run of an XLA-compiled CPU function.
XLA_RUN = "CpuExecutable::ExecuteAsyncOnStream"
CONTROL_FLOW_OPS = {"StatefulPartitionedCall", "PartitionedCall", "While", "StatelessWhile", "If", "StatelessIf"}


def traced_events(function, argument, calls=3, host_tracer_level=2):
    """Runs `function(argument)` `calls` times under the TensorFlow profiler; yields (thread, event
    name, seconds per call) for every event it recorded. Level 3 also records each kernel of an
    XLA program, under its HLO instruction's name."""
    import glob

    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    function(argument).numpy()
    with tempfile.TemporaryDirectory() as logdir:
        options = tf.profiler.experimental.ProfilerOptions(host_tracer_level=host_tracer_level)
        tf.profiler.experimental.start(logdir, options=options)
        for _ in range(calls):
            function(argument).numpy()
        tf.profiler.experimental.stop()
        (path,) = glob.glob(os.path.join(logdir, "**", "*.xplane.pb"), recursive=True)
        with open(path, "rb") as f:
            space = xplane_pb2.XSpace.FromString(f.read())
    for plane in space.planes:
        for line in plane.lines:
            for event in line.events:
                yield line.name, plane.event_metadata[event.metadata_id].name, event.duration_ps * 1e-12 / calls


def op_times(function, argument):
    """The kernel time of `function(argument)`'s ops in seconds per call, summed over threads, by op
    type and by the name scope that ran them (gradients fall under "gradient_tape"; runs of
    XLA-compiled functions are "XLA kernels", scope "xla")."""
    by_type, by_scope = {}, {}
    for thread, name, seconds in traced_events(function, argument):
        if not thread.startswith("tf_Compute"):
            continue
        if name == XLA_RUN:  # an XLA-compiled function (the GELU's): its kernels are no ops
            scope, op_type = "xla", "XLA kernels"
        elif ":" not in name or "::" in name:  # executor bookkeeping, not an op
            continue
        else:
            scope, op_type = name.rsplit(":", 1)
        if op_type in CONTROL_FLOW_OPS:  # their time is their ops' time, counted already
            continue
        by_type[op_type] = by_type.get(op_type, 0.0) + seconds
        by_scope[layer_of(scope)] = by_scope.get(layer_of(scope), 0.0) + seconds
    return by_type, by_scope


def layer_of(scope):
    """The model part an op's name scope belongs to: the two scopes below the model's, or "backward"
    (Keras numbers the scope of each call, "attention_3": the number is dropped)."""
    parts = [re.sub(r"_\d+$", "", part) for part in scope.split("/")
             if not part.startswith(("while", "body", "_", "StatefulPartitioned"))]
    if any(part.startswith("gradient_tape") for part in parts):
        return "backward"
    for index, part in enumerate(parts):
        if part.startswith(("albert_encoder", "albert_backbone")):
            return "/".join(parts[index + 1:index + 3]) or part
    return parts[0] if parts else scope


def print_profile(title, function, argument, rows=10):
    by_type, by_scope = op_times(function, argument)
    total = sum(by_type.values())
    print(f"profile of {title}: {total * 1000:.1f} ms of op time per call (summed over threads)")
    for label, table in (("op type", by_type), ("scope", by_scope)):
        top = sorted(table.items(), key=lambda item: -item[1])[:rows]
        print(f"  by {label}: " + ", ".join(f"{name} {seconds / total:.0%}" for name, seconds in top))


# An HLO instruction's name and result type; a dot's name, result dimensions, left operand and
# contracted dimensions.
HLO_VALUE = re.compile(r"%([\w.\-]+) = (\w+)\[([\d,]*)\]")
HLO_DOT = re.compile(r"%([\w.\-]+) = \w+\[([\d,]*)\]\S* dot\(%([\w.\-]+), %[\w.\-]+\)"
                     r"[^\n]*?lhs_contracting_dims=\{([\d,]*)\}")


def dot_flops(hlo_text):
    """FLOPs of the matrix products (`dot`s) in an HLO module's text, by instruction name, and the
    element type of their operands, which is the type XLA computes them in. Each dot counts once
    as written (a loop's body once; our models unroll their layers)."""
    shapes = {name: (dtype, [int(d) for d in dims.split(",") if d])
              for name, dtype, dims in HLO_VALUE.findall(hlo_text)}
    flops = {}
    for name, output_dims, lhs, contracting in HLO_DOT.findall(hlo_text):
        dtype, lhs_dims = shapes[lhs]
        products = math.prod(int(d) for d in output_dims.split(",") if d)
        depth = math.prod(lhs_dims[int(d)] for d in contracting.split(",") if d)
        flops[name] = (dtype, 2 * products * depth)
    return flops


def print_xla_dots(title, function, argument):
    """What the XLA program of `function` multiplies: its dots' GFLOPs by the type they are
    computed in, their share of the program's kernel time and their rate, from a profile that
    names each kernel by its HLO instruction."""
    hlo = function.experimental_get_compiler_ir(argument)(stage="optimized_hlo")
    dots, instructions = dot_flops(hlo), {name for name, _, _ in HLO_VALUE.findall(hlo)}
    kernel_seconds, dot_seconds = 0.0, 0.0
    for _, name, seconds in traced_events(function, argument, host_tracer_level=3):
        if name in instructions:
            kernel_seconds += seconds
            dot_seconds += seconds if name in dots else 0.0
    by_type = {}
    for dtype, count in dots.values():
        by_type[dtype] = by_type.get(dtype, 0) + count
    total = sum(by_type.values())
    types = ", ".join(f"{dtype} {count / total:.0%}" for dtype, count in sorted(by_type.items(), key=lambda i: -i[1]))
    print(f"XLA program of {title}: {total / 1e9:.4g} GFLOP of dots per call, computed in {types}")
    if dot_seconds:
        print(f"  dots take {dot_seconds / kernel_seconds:.0%} of its kernels' time, at {total / dot_seconds / 1e9:.1f} "
              "GFLOP/s")
    else:
        print("  the profile named none of its dots' kernels (this TensorFlow's XLA traces kernels otherwise)")


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
        for jit in (value.lower() == "true" for value in FLAGS.xla):
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
            for name, ((_, train_step), inputs, _) in timed.items():
                if FLAGS.profile and jit:
                    print_xla_dots(f"{name} {dtype} training step", train_step, inputs)
                elif FLAGS.profile:
                    print_profile(f"{name} {dtype} training step", train_step, inputs)
            sys.stdout.flush()


def benchmark_train():
    config = pretrain.pretraining_config()
    albert_config = albert_tf.AlbertConfig.from_json_file(flags.FLAGS.albert_config_file)
    strategy = tf.distribute.get_strategy()
    files = expand_input_files(config.input_files, "input_file")
    builders = {"albert_tf": albert_tf.AlbertPretrainer}
    if FLAGS.peer == "keras_hub":
        builders["keras_hub"] = keras_hub_pretrainer_class()
    batch = config.train_batch_size

    def job(model_fn, **overrides):
        fields = {"output_dir": tempfile.mkdtemp(), "do_eval": False, "num_train_steps": 10**9, **overrides}
        return Pretraining(strategy, albert_config, dataclasses.replace(config, **fields), model_fn)

    print(f"flagfile config={flags.FLAGS.albert_config_file} batch={batch} seq={config.max_seq_length} "
          f"predictions={config.max_predictions_per_seq} optimizer={config.optimizer} threads={os.cpu_count()}")
    dataset = pretraining_dataset(files, batch, config.max_seq_length, config.max_predictions_per_seq, True,
                                  seed=config.seed)
    batches = 20
    start = time.perf_counter()
    for _ in dataset.take(batches):
        pass
    pipeline_rate = batches * batch / (time.perf_counter() - start)
    print(f"input pipeline alone: {pipeline_rate:.0f} examples/s")

    print(f"{'dtype':<16}{'xla':<6}{'model':<11}{'examples/s':>12}{'step ms':>10}{'pipeline headroom':>19}")
    for dtype in FLAGS.dtypes:
        for jit in (value.lower() == "true" for value in FLAGS.xla):
            jobs = {name: job(build, mixed_precision=dtype, jit_compile=jit) for name, build in builders.items()}
            times = {name: [] for name in jobs}
            steps = tf.constant(FLAGS.steps)
            for _ in range(FLAGS.rounds):
                for name, pretraining in jobs.items():
                    pretraining.train_loop(steps).numpy()
                    times[name].extend(seconds_per_call(pretraining.train_loop, steps) for _ in range(FLAGS.calls))
            rates = {}
            for name, samples in times.items():
                seconds = statistics.median(samples) / FLAGS.steps
                rates[name] = batch / seconds
                print(f"{dtype:<16}{'on' if jit else 'off':<6}{name:<11}{rates[name]:>12.1f}{seconds * 1000:>10.1f}"
                      f"{pipeline_rate / rates[name]:>18.0f}x")
            if "keras_hub" in rates:
                print(f"{dtype:<16}{'on' if jit else 'off':<6}{'ratio':<11}{rates['albert_tf'] / rates['keras_hub']:>11.2f}x")
            if FLAGS.profile and not jit:
                for name, pretraining in jobs.items():
                    print_profile(f"{name} {dtype} pretraining loop ({FLAGS.steps} steps, input pipeline included)",
                                  pretraining.train_loop, steps)
            sys.stdout.flush()

    if FLAGS.curve_steps:
        every = max(1, FLAGS.curve_steps // 20)
        curves = {}
        for dtype in ("float32", "mixed_bfloat16"):
            pretraining = job(albert_tf.AlbertPretrainer, mixed_precision=dtype, num_train_steps=FLAGS.curve_steps)
            curves[dtype] = [float(tf.reduce_sum(pretraining.train_loop(tf.constant(every))))
                             for _ in range(FLAGS.curve_steps // every)]
        gaps = [abs(b - f) / f for f, b in zip(curves["float32"], curves["mixed_bfloat16"])]
        print(f"loss every {every} steps, float32:        " + " ".join(f"{x:.4f}" for x in curves["float32"]))
        print(f"loss every {every} steps, mixed_bfloat16: " + " ".join(f"{x:.4f}" for x in curves["mixed_bfloat16"]))
        print(f"largest relative gap between the curves: {max(gaps):.2%} (final: {gaps[-1]:.2%})")


def benchmark_data():
    if FLAGS.data_dupe_factor < 2:
        raise app.UsageError("--data_dupe_factor must be at least 2: the steady state is the difference between "
                             "a run with it and a run with one pass")
    workdir = tempfile.mkdtemp()
    corpus = make_corpus(FLAGS.corpus, FLAGS.data_corpus_mb, workdir) if FLAGS.data_corpus_mb else FLAGS.corpus
    print(f"corpus={corpus} ({os.path.getsize(corpus) / 1e6:.1f} MB) seq={FLAGS.data_seq} "
          f"dupe_factor={FLAGS.data_dupe_factor} cores={os.cpu_count()}")
    steady, outputs = {}, ()
    for workers in sorted({1, os.cpu_count()}):
        def run(dupe_factor, workers=workers):
            nonlocal outputs
            outputs = tuple(os.path.join(workdir, f"w{workers}-d{dupe_factor}-{i}.tfrecord") for i in range(4))
            summary = write_pretraining_data(PretrainingDataConfig(
                input_files=(corpus,), output_files=outputs, spm_model_file=FLAGS.spm_model,
                dupe_factor=dupe_factor, num_workers=workers,
                instance=InstanceConfig(max_seq_length=FLAGS.data_seq, max_predictions_per_seq=20)))
            return summary["instances"]

        steady[workers] = time_runs(f"create_pretraining_data, {workers} worker(s)", run)[1]
    print(f"steady state, {os.cpu_count()} workers vs 1: {ratio(steady[os.cpu_count()], steady[1])} (this "
          f"machine's ceiling: {os.cpu_count()} processes of pure Python do {parallel_ceiling(os.cpu_count()):.2f}x "
          "the work of one)")
    if FLAGS.original_tool:
        compare_with_the_original_tool(corpus, workdir)
    dataset = pretraining_dataset(list(outputs), FLAGS.data_batch, FLAGS.data_seq, 20, True, seed=0)
    batches = 50
    for _ in dataset.take(5):
        pass
    start = time.perf_counter()
    for _ in dataset.take(batches):
        pass
    print(f"input pipeline, batch {FLAGS.data_batch} x seq {FLAGS.data_seq}: "
          f"{batches * FLAGS.data_batch / (time.perf_counter() - start):.0f} examples/s")


def parallel_ceiling(processes, work=5_000_000):
    """How many times one process's pure-Python work `processes` processes do at once here: what the
    data tool's workers can reach at best (a virtual machine's cores may share physical ones)."""
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        pool.map(python_work, [1] * processes, chunksize=1)  # started
        start = time.perf_counter()
        pool.map(python_work, [work])
        one = time.perf_counter() - start
        start = time.perf_counter()
        pool.map(python_work, [work] * processes, chunksize=1)
        return processes * one / (time.perf_counter() - start)


def python_work(steps):
    total = 0
    for i in range(steps):
        total += i * i % 7
    return total


def make_corpus(sample, megabytes, workdir):
    """About `megabytes` of the sample's documents, repeated, each repetition in another order (seeded):
    a corpus of many groups of documents, to spread over the workers."""
    with open(sample, encoding="utf-8") as f:
        documents = [d.strip() for d in f.read().split("\n\n") if d.strip()]
    rng, chosen, size = random.Random(0), [], 0
    while size < megabytes * 1e6:
        order = rng.sample(documents, len(documents))
        for document in order:
            chosen.append(document)
            size += len(document.encode("utf-8")) + 2
            if size >= megabytes * 1e6:
                break
    path = os.path.join(workdir, f"corpus-{megabytes:g}mb.txt")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n\n".join(chosen) + "\n")
    return path


def ratio(rate, peer_rate):
    return "not measurable" if rate is None or peer_rate is None else f"{rate / peer_rate:.2f}x"


def time_runs(name, run):
    """Times `run(dupe_factor)` (→ instances written) with one pass and with --data_dupe_factor; prints
    and returns instances/s of the whole run at --data_dupe_factor and in steady state (the passes after the
    first: the difference between the two runs)."""
    (n1, t1), (n2, t2) = [_timed(run, dupe_factor) for dupe_factor in (1, FLAGS.data_dupe_factor)]
    # None when the longer run was no slower: on a small corpus start-up noise hides the passes.
    rates = n2 / t2, (n2 - n1) / (t2 - t1) if t2 > t1 else None
    steady = "not measurable (use a bigger --data_corpus_mb)" if rates[1] is None else f"{rates[1]:.0f} instances/s"
    print(f"{name}: dupe_factor {FLAGS.data_dupe_factor}: {n2} instances in {t2:.1f}s = {rates[0]:.0f} instances/s; "
          f"steady state (dupe_factor 1: {n1} in {t1:.1f}s): {steady}")
    sys.stdout.flush()
    return rates


def _timed(run, dupe_factor):
    start = time.perf_counter()
    instances = run(dupe_factor)
    return instances, time.perf_counter() - start


# Runs the original script under TF 2: its tokenization.py imports tensorflow_hub for a TF-Hub helper
# that the data tool never calls, and tensorflow_hub needs tf-keras, which this stack does not have.
# The script imports `from albert import tokenization`: its folder stands for the package `albert`,
# whatever the checkout's folder is called.
ORIGINAL_TOOL_LAUNCHER = """
import os, runpy, sys, types
try:
    import tensorflow_hub
except ImportError:
    sys.modules["tensorflow_hub"] = types.ModuleType("tensorflow_hub")
script = sys.argv[1]
folder = os.path.dirname(os.path.abspath(script))
sys.path.insert(0, folder)
package = types.ModuleType("albert")
package.__path__ = [folder]
sys.modules.setdefault("albert", package)
sys.argv = sys.argv[1:]
runpy.run_path(script, run_name="__main__")
"""


def compare_with_the_original_tool(corpus, workdir):
    """Ours and the original's, each run as a command from the same flags (`time_runs`). Whole runs
    count start-up (importing TensorFlow, reading and tokenizing the corpus, starting workers), as a
    user sees it; the steady state is what a large corpus gets."""
    # The original requires --vocab_file, and ignores it when given an spm model.
    common = [f"--input_file={corpus}", f"--spm_model_file={FLAGS.spm_model}", f"--vocab_file={FLAGS.spm_model}",
              "--do_lower_case=true", f"--max_seq_length={FLAGS.data_seq}", "--max_predictions_per_seq=20",
              "--ngram=3", "--masked_lm_prob=0.15", "--random_seed=12345"]
    ours_script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "create_pretraining_data.py")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3",
               PYTHONPATH=os.pathsep.join([os.path.dirname(os.path.dirname(ours_script)),
                                           os.environ.get("PYTHONPATH", "")]))
    commands = {"original, 1 process": [sys.executable, "-c", ORIGINAL_TOOL_LAUNCHER, FLAGS.original_tool]}
    for workers in sorted({1, os.cpu_count()}):
        commands[f"ours, {workers} worker(s)"] = [sys.executable, ours_script, f"--num_workers={workers}"]
    rates = {}
    for name, command in commands.items():
        def run(dupe_factor, name=name, command=command):
            output = os.path.join(workdir, f"{name.replace(' ', '').replace(',', '-')}-{dupe_factor}.tfrecord")
            result = subprocess.run(command + common + [f"--dupe_factor={dupe_factor}", f"--output_file={output}"],
                                    env=env, capture_output=True, text=True)
            if result.returncode:
                sys.exit(f"{name} failed ({' '.join(command[:2])} ...):\n{result.stderr[-3000:]}")
            return sum(1 for _ in tf.data.TFRecordDataset(output))

        rates[name] = time_runs(f"command, {name}", run)
    whole, steady = rates.pop("original, 1 process")
    for name, (ours_whole, ours_steady) in rates.items():
        print(f"{name} vs the original tool: {ours_whole / whole:.2f}x whole run, "
              f"{ratio(ours_steady, steady)} steady state")


def benchmark_serve():
    """Latency (batch 1) and throughput (batch 32) of the raw-string signature and of the ids
    signature on the same sentences, requests alternating between the two."""
    import glob

    import tensorflow_text  # noqa: F401  (the SentencePiece ops of the export)

    loaded = tf.saved_model.load(FLAGS.export_dir)
    text_signature, ids_signature = loaded.signatures["serving_default"], loaded.signatures["serving_ids"]
    text_names = [spec.name for spec in tf.nest.flatten(text_signature.structured_input_signature)]
    spm_model = glob.glob(os.path.join(FLAGS.export_dir, "assets", "*.model"))[0]
    with open(os.path.join(FLAGS.export_dir, "assets.extra", "export_config.json")) as f:
        export_config = json.load(f)
    tokenizer = albert_tf.FullTokenizer(spm_model, do_lower_case=export_config["do_lower_case"])
    with open(FLAGS.corpus, encoding="utf-8") as f:
        sentences = [line.strip() for line in f if len(line.split()) >= 8][:256]
    print(f"export={FLAGS.export_dir} inputs={text_names} requests={FLAGS.serve_requests} threads={os.cpu_count()}")
    def texts(batch_texts):
        return {name: tf.constant(batch_texts) for name in text_names}

    def ids(batch_texts):
        return ids_signature_inputs(tokenizer, batch_texts, len(text_names) == 2, export_config["max_seq_length"])

    for batch, times in time_alternating(sentences, {"raw strings": (text_signature, texts),
                                                     "token ids": (ids_signature, ids)}):
        ratio = np.median(times["token ids"]) / np.median(times["raw strings"])
        print(f"{batch:<7}{'strings vs ids':<18}{ratio:>9.2f}x examples/s")
    if FLAGS.compare_export_dir:
        compare_exports(text_signature, texts, sentences)


def time_alternating(sentences, calls):
    """For batch 1 and 32: times --serve_requests requests of `sentences` to each of `calls`
    ({name: (signature, batch texts → its request)}), requests alternating between them so that
    drift in the machine's speed falls on all; prints a table and yields (batch, {name: seconds
    per request}), without the first calls (tracing, warm-up)."""
    print(f"{'batch':<7}{'signature':<18}{'p50 ms':>10}{'p99 ms':>10}{'examples/s':>13}")
    for batch in (1, 32):
        times = {name: [] for name in calls}
        for start in range(0, FLAGS.serve_requests * batch, batch):
            batch_texts = [sentences[(start + i) % len(sentences)] for i in range(batch)]
            for name, (signature, request) in calls.items():
                request = request(batch_texts)
                begin = time.perf_counter()
                tf.nest.map_structure(lambda t: t.numpy(), signature(**request))
                times[name].append(time.perf_counter() - begin)
        times = {name: np.array(seconds[5:]) for name, seconds in times.items()}
        for name, seconds in times.items():
            print(f"{batch:<7}{name:<18}{np.percentile(seconds, 50) * 1e3:>10.2f}{np.percentile(seconds, 99) * 1e3:>10.2f}"
                  f"{batch / seconds.mean():>13.1f}")
        yield batch, times


def compare_exports(text_signature, texts, sentences):
    """--export_dir's raw-string signature against --compare_export_dir's: examples/s at batch 1
    and 32 (requests alternating), then, for classifiers, how far the second's answers are from
    the first's on --dev_file."""
    other = tf.saved_model.load(FLAGS.compare_export_dir).signatures["serving_default"]
    print(f"compared with {FLAGS.compare_export_dir}")
    signatures = {"export_dir": text_signature, "compare": other}
    calls = {name: (signature, texts) for name, signature in signatures.items()}
    for batch, times in time_alternating(sentences, calls):
        speedup = np.median(times["export_dir"]) / np.median(times["compare"])
        print(f"{batch:<7}{'compare vs export_dir':<25}{speedup:>5.2f}x examples/s")
    if "probabilities" not in other.structured_outputs:
        return
    with open(FLAGS.dev_file, encoding="utf-8") as f:
        header, *rows = [line.rstrip("\n").split("\t") for line in f]
    dev = [row[header.index("sentence")] for row in rows]
    answers = []
    for signature in signatures.values():
        answers.append(np.concatenate([signature(**texts(dev[i:i + 32]))[
            "probabilities"].numpy() for i in range(0, len(dev), 32)]))
    agreement = np.mean(answers[0].argmax(-1) == answers[1].argmax(-1))
    print(f"on {FLAGS.dev_file} ({len(dev)} sentences): largest probability difference "
          f"{np.abs(answers[0] - answers[1]).max():.2e}, label agreement {agreement:.1%}")


def benchmark_litert():
    """Size and batch-1 latency of the classifier at --config's shapes (random weights) as a
    SavedModel and as a LiteRT file per quantization; then, with the sample checkpoints, what each
    quantization costs against the Keras model on the SST-2 and SQuAD 1.1 sample dev sets."""
    from ai_edge_litert.interpreter import Interpreter

    from albert_tf.export import litert

    config = albert_tf.AlbertConfig.from_json_file(FLAGS.config)
    model = albert_tf.AlbertClassifier(config, 2)
    scratch = tempfile.mkdtemp()
    rng = np.random.default_rng(0)
    inputs = {"input_word_ids": rng.integers(5, config.vocab_size, (1, FLAGS.seq)).astype(np.int32),
              "input_mask": np.ones((1, FLAGS.seq), np.int32), "input_type_ids": np.zeros((1, FLAGS.seq), np.int32)}
    lite_config = litert.LiteRTConfig("classifier", FLAGS.seq)
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint("serving_default", litert.task_outputs(model, lite_config),
                         input_signature=litert.input_signature(lite_config))
    saved_model_dir = os.path.join(scratch, "saved_model")
    archive.write_out(saved_model_dir, verbose=False)
    signature = tf.saved_model.load(saved_model_dir).signatures["serving_default"]
    runners = {"SavedModel (TensorFlow)": lambda: signature(**{k: tf.constant(v) for k, v in inputs.items()})}
    sizes = {"SavedModel (TensorFlow)": sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(saved_model_dir)
                                            for f in files)}
    for quantization in litert.QUANTIZATIONS:
        path = litert.export_litert(model, litert.LiteRTConfig("classifier", FLAGS.seq, quantization),
                                    os.path.join(scratch, f"{quantization}.tflite"))
        runner = Interpreter(model_path=path, num_threads=os.cpu_count()).get_signature_runner()
        name = f"LiteRT {quantization}"
        runners[name], sizes[name] = (lambda runner=runner: runner(**inputs)), os.path.getsize(path)
    times = {name: [] for name in runners}
    for _ in range(3):  # untimed: tracing, allocation
        for run in runners.values():
            run()
    for _ in range(FLAGS.litert_calls):  # alternating, so drift in the machine's speed falls on all
        for name, run in runners.items():
            start = time.perf_counter()
            tf.nest.map_structure(np.asarray, run())
            times[name].append(time.perf_counter() - start)
    print(f"config={FLAGS.config} seq={FLAGS.seq} batch=1 threads={os.cpu_count()} calls={FLAGS.litert_calls}")
    print(f"{'runtime':<26}{'size MB':>9}{'p50 ms':>9}{'p90 ms':>9}")
    for name in runners:
        print(f"{name:<26}{sizes[name] / 1e6:>9.1f}{np.percentile(times[name], 50) * 1e3:>9.1f}"
              f"{np.percentile(times[name], 90) * 1e3:>9.1f}")
    sample_config = albert_tf.AlbertConfig.from_json_file(FLAGS.sample_config)
    if FLAGS.sst2_checkpoint:
        litert_sst2(Interpreter, litert, sample_config, scratch)
    if FLAGS.squad_checkpoint:
        litert_squad(Interpreter, litert, sample_config, scratch)


def litert_sst2(Interpreter, litert, config, scratch):
    import csv

    from albert_tf.finetuning.features import encode_tokens

    model = albert_tf.AlbertClassifier(config, 2)
    albert_tf.load_checkpoint(model, FLAGS.sst2_checkpoint)
    tokenizer = albert_tf.FullTokenizer(FLAGS.spm_model)
    with open("tfrecords/sample/glue/SST-2/dev.tsv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    encoded = [encode_tokens(tokenizer, tokenizer.tokenize(row["sentence"]), None, 64) for row in rows]
    inputs = {key: np.array([getattr(e, key) for e in encoded], np.int32)
              for key in ("input_word_ids", "input_mask", "input_type_ids")}
    labels = np.array([int(row["label"]) for row in rows])
    expected = tf.nn.softmax(model(inputs, training=False)["logits"]).numpy()
    print(f"\nSST-2 sample dev ({len(rows)} sentences), {FLAGS.sst2_checkpoint}: Keras accuracy "
          f"{np.mean(expected.argmax(-1) == labels):.4f}")
    print(f"{'quantization':<14}{'size KB':>9}{'max |dp|':>11}{'agreement':>11}{'accuracy':>10}")
    for quantization in litert.QUANTIZATIONS:
        path = litert.export_litert(model, litert.LiteRTConfig("classifier", 64, quantization),
                                    os.path.join(scratch, f"sst2-{quantization}.tflite"))
        probabilities = Interpreter(model_path=path).get_signature_runner()(**inputs)["probabilities"]
        print(f"{quantization:<14}{os.path.getsize(path) / 1e3:>9.0f}{np.abs(probabilities - expected).max():>11.2e}"
              f"{np.mean(probabilities.argmax(-1) == expected.argmax(-1)):>11.4f}"
              f"{np.mean(probabilities.argmax(-1) == labels):>10.4f}")


def litert_squad(Interpreter, litert, config, scratch):
    from albert_tf.finetuning import squad_data, squad_metrics, squad_postprocess

    dev = "tfrecords/sample/SQuAD/dev-v1.1.json"
    model = albert_tf.AlbertQuestionAnswerer(config)
    albert_tf.load_checkpoint(model, FLAGS.squad_checkpoint)
    examples = squad_data.read_examples(dev, False, False)
    features, _ = squad_data.build_features(examples, albert_tf.FullTokenizer(FLAGS.spm_model), 128, 64, 24, False)
    windows = {key: np.array([getattr(f, key) for f in features], np.int32)
               for key in ("input_word_ids", "input_mask", "input_type_ids", "p_mask")}
    keras_outputs = {k: np.asarray(v) for k, v in model(windows, training=False).items()}
    windows.pop("p_mask")  # the file derives it from the type ids, as the SavedModel does

    def scores(outputs):
        predictions = squad_postprocess.decode(examples, features, outputs, 20, 30, False)[0]
        return predictions, squad_metrics.evaluate(examples, predictions, version_2_with_negative=False)

    keras_predictions, keras_metrics = scores(keras_outputs)
    print(f"\nSQuAD 1.1 sample dev ({len(examples)} questions, {len(features)} windows), {FLAGS.squad_checkpoint}: "
          f"Keras exact_match {keras_metrics['exact_match']:.1f}, f1 {keras_metrics['f1']:.1f}")
    print(f"{'quantization':<14}{'size KB':>9}{'max |dlogit|':>14}{'same answer':>13}{'exact_match':>13}{'f1':>7}")
    for quantization in litert.QUANTIZATIONS:
        path = litert.export_litert(model, litert.LiteRTConfig("squad", 128, quantization),
                                    os.path.join(scratch, f"squad-{quantization}.tflite"))
        outputs = Interpreter(model_path=path).get_signature_runner()(**windows)
        predictions, metrics = scores(outputs)
        difference = max(np.abs(outputs[k] - keras_outputs[k]).max() for k in ("start_logits", "end_logits"))
        same = np.mean([predictions[k] == keras_predictions[k] for k in keras_predictions])
        print(f"{quantization:<14}{os.path.getsize(path) / 1e3:>9.0f}{difference:>14.2e}{same:>13.4f}"
              f"{metrics['exact_match']:>13.1f}{metrics['f1']:>7.1f}")


def ids_signature_inputs(tokenizer, texts, pair, max_seq_length):
    from albert_tf.finetuning.features import encode_tokens

    encoded = [encode_tokens(tokenizer, tokenizer.tokenize(t), tokenizer.tokenize(t) if pair else None,
                             max_seq_length)
               for t in texts]
    width = max(sum(e.input_mask) for e in encoded)
    return {key: tf.constant([getattr(e, key)[:width] for e in encoded], tf.int32)
            for key in ("input_word_ids", "input_mask", "input_type_ids")}


def main(argv):
    commands = {"model": benchmark_model, "train": benchmark_train, "data": benchmark_data, "serve": benchmark_serve,
                "litert": benchmark_litert}
    if len(argv) != 2 or argv[1] not in commands:
        raise app.UsageError(f"usage: benchmark.py {{{'|'.join(commands)}}} [--flags]")
    # Everything a benchmark writes (records, checkpoints, summaries) goes to one scratch folder.
    with tempfile.TemporaryDirectory(prefix="albert_benchmark_") as scratch:
        tempfile.tempdir = scratch
        commands[argv[1]]()


if __name__ == "__main__":
    startup.run(main)
