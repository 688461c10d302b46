"""Trains an ALBERT-layout SentencePiece unigram model, with the original release's settings.

    python run/train_tokenizer.py --input=tfrecords/sample/botchan_corpus.txt \\
        --model_prefix=tfrecords/sample/botchan --vocab_size=8000

Ids: <pad>=0, <unk>=1, [CLS]=2, [SEP]=3, [MASK]=4, then the original's user symbols
( ) " - . – £ €. No BOS/EOS. Writes MODEL_PREFIX.model and MODEL_PREFIX.vocab.
"""

import sentencepiece as spm
from absl import app, flags

flags.DEFINE_string("input", None, "Training text, comma-separated files (one sentence per line).")
flags.DEFINE_string("model_prefix", None, "Output prefix of the .model and .vocab files.")
flags.DEFINE_integer("vocab_size", 30000, "Vocabulary size (the released models use 30000).")
flags.DEFINE_integer("input_sentence_size", 10_000_000, "Sentences sampled for training.")
flags.DEFINE_float("character_coverage", 0.99995, "Share of characters the vocabulary covers.")
flags.DEFINE_integer("seed", 12345, "Seed of sentencepiece's sentence sampling, for a reproducible model.")
flags.mark_flags_as_required(["input", "model_prefix"])
FLAGS = flags.FLAGS

CONTROL_SYMBOLS = ["[CLS]", "[SEP]", "[MASK]"]
USER_SYMBOLS = ["(", ")", '"', "-", ".", "–", "£", "€"]


def main(argv):
    del argv
    spm.set_random_generator_seed(FLAGS.seed)
    spm.SentencePieceTrainer.train(
        input=FLAGS.input, model_prefix=FLAGS.model_prefix, vocab_size=FLAGS.vocab_size, model_type="unigram",
        pad_id=0, unk_id=1, bos_id=-1, eos_id=-1, control_symbols=CONTROL_SYMBOLS,
        user_defined_symbols=USER_SYMBOLS, shuffle_input_sentence=True,
        input_sentence_size=FLAGS.input_sentence_size, character_coverage=FLAGS.character_coverage,
        num_threads=1, minloglevel=1)
    processor = spm.SentencePieceProcessor(model_file=f"{FLAGS.model_prefix}.model")
    print(f"{FLAGS.model_prefix}.model: {processor.get_piece_size()} pieces; ids 0-4: "
          f"{[processor.id_to_piece(i) for i in range(5)]}")


if __name__ == "__main__":
    app.run(main)
