"""Runs the ALBERT encoder (and pretraining heads) forward on a batch and prints what comes out.

    python run/forward.py --albert_config_file=run/configs/albert_tiny.json

With `--init_checkpoint` (any format albert_tf reads), the weights come from it, and with a folder
that carries its config (Hugging Face, keras-hub, TF1 Hub module) the config too; otherwise they
are freshly initialized. The inputs are random token ids with padding.
"""

import time

import numpy as np
from absl import app, flags

import startup  # noqa: I001  (first: quiet start-up)
import albert_tf
import checkpoint_flags

keras = startup.lazy_import("keras")

TINY_CONFIG = "run/configs/albert_tiny.json"
flags.DEFINE_string("albert_config_file", None, "The model's albert_config.json (default: the checkpoint's, else "
                    f"{TINY_CONFIG}).")
flags.DEFINE_string("init_checkpoint", None, "Optional checkpoint to load (any format albert_tf reads).")
flags.DEFINE_integer("batch_size", 8, "Sequences in the batch.")
flags.DEFINE_integer("seq_length", 128, "Tokens per sequence.")
flags.DEFINE_integer("max_predictions_per_seq", 20, "Masked positions per sequence for the MLM head.")
flags.DEFINE_enum("dtype", "float32", ["float32", "mixed_bfloat16", "mixed_float16"], "Keras dtype policy.")
FLAGS = flags.FLAGS


def random_batch(config, batch_size, seq_length, num_predictions, seed=0):
    if seq_length > config.max_position_embeddings:
        raise app.UsageError(f"--seq_length={seq_length} exceeds max_position_embeddings="
                             f"{config.max_position_embeddings} of the model's config")
    rng = np.random.default_rng(seed)
    lengths = rng.integers(seq_length // 2, seq_length + 1, batch_size)
    mask = (np.arange(seq_length)[None] < lengths[:, None]).astype(np.int32)
    return {
        "input_word_ids": rng.integers(5, config.vocab_size, (batch_size, seq_length)).astype(np.int32) * mask,
        "input_mask": mask,
        "input_type_ids": (np.arange(seq_length)[None] >= lengths[:, None] // 2).astype(np.int32) * mask,
        "masked_lm_positions": np.sort(rng.integers(1, seq_length // 2, (batch_size, num_predictions)), 1).astype(np.int32),
    }


def main(argv):
    del argv
    if not FLAGS.init_checkpoint and not FLAGS.albert_config_file:
        FLAGS.albert_config_file = TINY_CONFIG
    config = checkpoint_flags.resolve(FLAGS.init_checkpoint, need_spm_model=False).config
    model = albert_tf.AlbertPretrainer(config, dtype=FLAGS.dtype)
    if FLAGS.init_checkpoint:
        try:
            albert_tf.load_checkpoint(model, FLAGS.init_checkpoint, allow_missing_heads=True)
        except (ValueError, OSError) as e:
            raise app.UsageError(f"--init_checkpoint: {e}") from None
    batch = random_batch(config, FLAGS.batch_size, FLAGS.seq_length, FLAGS.max_predictions_per_seq)

    start = time.perf_counter()
    encoded = model.encoder(batch, training=False)
    heads = model(batch, training=False)
    seconds = time.perf_counter() - start

    print(f"ALBERT {FLAGS.albert_config_file or FLAGS.init_checkpoint}: {model.encoder.count_params():,} encoder parameters, "
          f"{model.count_params():,} with pretraining heads; {config.num_hidden_layers} layers share "
          f"{len(config.used_groups) * config.inner_group_num} block(s)")
    for name, value in [*encoded.items(), *heads.items()]:
        shape = f"{len(value)} x {tuple(value[0].shape)}" if isinstance(value, list) else tuple(value.shape)
        print(f"  {name:<16} {shape}")
    sop = keras.ops.convert_to_numpy(keras.ops.softmax(heads["sop_logits"][0]))
    print(f"  first example: MLM top-1 id {np.argmax(heads['mlm_logits'][0, 0])}, SOP probabilities {sop.round(3)}")
    print(f"forward passes took {seconds:.2f}s")


if __name__ == "__main__":
    startup.run(main)
