"""Turns raw text into pretraining TFRecord shards (SOP pairs, n-gram whole-word masking).

    python run/create_pretraining_data.py --flagfile=run/flags/sample_data.flags

Accepts the original `create_pretraining_data.py` flags; input is one sentence per line with a
blank line between documents. New: --num_workers (processes; default: all cores) and
--num_shards (split a single --output_file into that many shards) and --overwrite. The same flags
and seed give byte-identical shards for any --num_workers. The shards and the stats JSON are written
aside (hidden `.<name>.incomplete-<id>` files beside them) and renamed into place once all are
complete: a killed run leaves an earlier output as it was, and the next run removes what it left.

With --runner (DirectRunner, DataflowRunner, FlinkRunner, SparkRunner) it is an Apache Beam
pipeline (`pip install -e ".[beam]"`) that makes the same records, order aside; the flags this tool
does not define are Beam's pipeline options, and --num_workers, if given, is Beam's too.
"""

import os

from absl import app, flags, logging

import startup  # noqa: I001  (first: quiet start-up, TensorFlow after the flags)

# The local tool imports no TensorFlow (for local files): these modules need none.
from albert_tf import file_system
from albert_tf.data.pretraining_instances import InstanceConfig
from albert_tf.data.pretraining_writer import PretrainingDataConfig, write_pretraining_data

write_pretraining_data_beam = startup.lazy_function("albert_tf.data.pretraining_beam", "write_pretraining_data")
PipelineOptions = startup.lazy_function("apache_beam.options.pipeline_options", "PipelineOptions")

flags.DEFINE_string("input_file", None, "Input text: glob(s), comma-separated.")
flags.DEFINE_string("output_file", None, "Output TFRecord file(s), comma-separated (written round-robin).")
flags.DEFINE_string("vocab_file", None, "The original's WordPiece vocabulary; ignored with --spm_model_file.")
flags.DEFINE_string("spm_model_file", None, "SentencePiece model (run/train_tokenizer.py).")
flags.DEFINE_string("input_file_mode", "r", "Accepted for old job files; files are always read as UTF-8.")
flags.DEFINE_bool("do_lower_case", True, "Lowercase the input.")
flags.DEFINE_bool("do_whole_word_mask", True, "Mask whole words.")
flags.DEFINE_bool("do_permutation", False, "Not supported (the original's output did not fit its own parser).")
flags.DEFINE_bool("favor_shorter_ngram", True, "p(n) ∝ 1/n; else longer n-grams are likelier.")
flags.DEFINE_bool("random_next_sentence", False, "Classic NSP pairs instead of sentence-order pairs.")
flags.DEFINE_integer("max_seq_length", 512, "Maximum sequence length.")
flags.DEFINE_integer("ngram", 3, "Maximum n-gram length to mask.")
flags.DEFINE_integer("max_predictions_per_seq", 20, "Maximum masked positions per sequence.")
flags.DEFINE_integer("random_seed", 12345, "Seed of every random choice.")
flags.DEFINE_integer("dupe_factor", 40, "Passes over the input, each with different masks.")
flags.DEFINE_float("masked_lm_prob", 0.15, "Share of tokens to mask.")
flags.DEFINE_float("short_seq_prob", 0.1, "Probability of a shorter target length.")
flags.DEFINE_integer("num_workers", os.cpu_count(), "Worker processes.")
flags.DEFINE_integer("num_shards", 1, "Shards to split a single --output_file into. Each must get an instance; "
                     "how many instances the corpus makes is known only once they are made, so too many shards "
                     "is an error at the end, before any file is put in place.")
flags.DEFINE_bool("overwrite", False, "Replace the shards of an earlier run here under another --num_shards (or "
                  "the unsharded file): they are removed once this run's shards are in place. Without it they "
                  "are an error before any work.")
flags.DEFINE_string("runner", None, "Apache Beam runner (DirectRunner, DataflowRunner, FlinkRunner, SparkRunner): "
                    "run as a Beam pipeline; the flags this tool does not define are passed to Beam.")
flags.DEFINE_bool("shuffle", False, "With --runner: order each shard's instances by a hash seeded with --random_seed "
                  "(they are spread over the shards by it in any case); a worker holds a shard in memory.")
flags.register_multi_flags_validator(
    ["shuffle", "runner"], lambda values: values["runner"] or not values["shuffle"],
    "--shuffle needs --runner: the local tool writes the instances in input order")
FLAGS = flags.FLAGS


def parse_flags(argv):
    """absl's parsing; with --runner, the flags that this tool does not define are left for Beam."""
    try:
        beam_args = FLAGS(argv, known_only=True)
    except flags.Error:
        return app.parse_flags_with_usage(argv)  # absl's message and usage, and exit
    return beam_args if FLAGS.runner else app.parse_flags_with_usage(argv)


def pipeline_options(args):
    """Beam's options from the flags left to it; one that Beam does not define either is an error."""
    overrides = {"num_workers": FLAGS.num_workers} if FLAGS["num_workers"].present else {}
    options = PipelineOptions(args, runner=FLAGS.runner, **overrides)
    known = options.get_all_options()
    unknown = [arg for arg in args if arg.startswith("--") and arg[2:].split("=")[0] not in known]
    if unknown:
        raise app.UsageError(f"{unknown}: flags of neither this tool nor Beam's pipeline options")
    return options


def input_files(patterns):
    """The files of the comma-separated globs. Each glob must match: a missing file of a list would
    otherwise drop out of the corpus unnoticed."""
    files = set()
    for pattern in filter(None, (p.strip() for p in patterns.split(","))):
        matches = file_system.glob(pattern)
        if not matches:
            raise app.UsageError(f"--input_file: {pattern} matches no file")
        files.update(matches)
    if not files:
        raise app.UsageError(f"--input_file={patterns!r} names no file")
    return tuple(sorted(files))


def output_files():
    outputs = [path for path in FLAGS.output_file.split(",") if path]
    if FLAGS.num_shards > 1:
        if len(outputs) != 1:
            raise app.UsageError("--num_shards needs a single --output_file to split")
        outputs = [f"{outputs[0]}-{i:05d}-of-{FLAGS.num_shards:05d}" for i in range(FLAGS.num_shards)]
    for directory in {os.path.dirname(path) for path in outputs if os.path.dirname(path)}:
        file_system.makedirs(directory)
    return tuple(outputs)


def main(argv):
    if not FLAGS.spm_model_file:
        raise app.UsageError("--spm_model_file is required: ALBERT uses SentencePiece (the original's WordPiece "
                             "fallback with --vocab_file alone is not supported)")
    if FLAGS.do_permutation:
        raise app.UsageError("--do_permutation is not supported: the original wrote 2 x max_predictions_per_seq "
                             "masked positions, which its own pretraining parser could not read")
    config = PretrainingDataConfig(
        input_files=input_files(FLAGS.input_file), output_files=output_files(), spm_model_file=FLAGS.spm_model_file,
        do_lower_case=FLAGS.do_lower_case, dupe_factor=FLAGS.dupe_factor, random_seed=FLAGS.random_seed,
        num_workers=FLAGS.num_workers,
        instance=InstanceConfig(
            max_seq_length=FLAGS.max_seq_length, max_predictions_per_seq=FLAGS.max_predictions_per_seq,
            masked_lm_prob=FLAGS.masked_lm_prob, short_seq_prob=FLAGS.short_seq_prob, ngram=FLAGS.ngram,
            favor_shorter_ngram=FLAGS.favor_shorter_ngram, do_whole_word_mask=FLAGS.do_whole_word_mask,
            random_next_sentence=FLAGS.random_next_sentence),
        overwrite=FLAGS.overwrite)
    try:  # the inputs, the tokenizer and the settings are checked before any work; one line if they fail
        if FLAGS.runner:
            summary = write_pretraining_data_beam(config, pipeline_options(argv[1:]), FLAGS.shuffle)
        else:
            summary = write_pretraining_data(config)
    except (OSError, ValueError) as e:
        raise app.UsageError(str(e)) from None
    logging.info("Done.")
    print(f"{summary['instances']} instances from {summary['documents_per_pass']} documents x {FLAGS.dupe_factor}; "
          f"mean length {summary['mean_length']:.1f} tokens; {summary['masked_fraction']:.1%} masked; "
          f"{summary['sentence_order_swapped_fraction']:.1%} swapped; n-gram spans {summary['ngram_span_counts']}; "
          f"{summary['instances_per_second']:.0f} instances/s")


if __name__ == "__main__":
    flags.mark_flags_as_required(["input_file", "output_file"])
    startup.run(main, parse_flags, needs_tensorflow=False)
