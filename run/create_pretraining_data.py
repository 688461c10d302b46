"""Turns raw text into pretraining TFRecord shards (SOP pairs, n-gram whole-word masking).

    python run/create_pretraining_data.py --flagfile=run/flags/sample_data.flags

Accepts the original `create_pretraining_data.py` flags; input is one sentence per line with a
blank line between documents. New: --num_workers (processes; default: all cores) and
--num_shards (split a single --output_file into that many shards) and --overwrite. The same flags
and seed give byte-identical shards for any --num_workers. The shards and the stats JSON are written
aside (hidden `.<name>.incomplete-<id>` files beside them) and renamed into place once all are
complete: a killed run leaves an earlier output as it was, and the next run removes what it left.
"""

import os

from absl import app, flags, logging

import startup  # noqa: I001  (first: quiet start-up, TensorFlow after the flags)

tf = startup.lazy_import("tensorflow")
InstanceConfig = startup.lazy_function("albert_tf.data.pretraining_instances", "InstanceConfig")
PretrainingDataConfig = startup.lazy_function("albert_tf.data.pretraining_writer", "PretrainingDataConfig")
write_pretraining_data = startup.lazy_function("albert_tf.data.pretraining_writer", "write_pretraining_data")

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
FLAGS = flags.FLAGS


def input_files(patterns):
    """The files of the comma-separated globs. Each glob must match: a missing file of a list would
    otherwise drop out of the corpus unnoticed."""
    files = set()
    for pattern in filter(None, (p.strip() for p in patterns.split(","))):
        matches = tf.io.gfile.glob(pattern)
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
        tf.io.gfile.makedirs(directory)
    return tuple(outputs)


def main(argv):
    del argv
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
    summary = write_pretraining_data(config)
    logging.info("Done.")
    print(f"{summary['instances']} instances from {summary['documents_per_pass']} documents x {FLAGS.dupe_factor}; "
          f"mean length {summary['mean_length']:.1f} tokens; {summary['masked_fraction']:.1%} masked; "
          f"{summary['sentence_order_swapped_fraction']:.1%} swapped; n-gram spans {summary['ngram_span_counts']}; "
          f"{summary['instances_per_second']:.0f} instances/s")


if __name__ == "__main__":
    flags.mark_flags_as_required(["input_file", "output_file"])
    startup.run(main)
