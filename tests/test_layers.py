import numpy as np
import pytest
import tensorflow as tf

from albert_tf.layers import (AlbertEmbedding, MaskedLMHead, SelfAttention, SentenceOrderHead,
                              SharedTransformerBlock)
from tests.harness import check_config_round_trip, check_layer_keras_save_load
from tests.numpy_albert import layer_norm

RNG = np.random.default_rng(0)
HIDDEN = RNG.standard_normal((2, 5, 16)).astype(np.float32)
MASK = np.array([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]], np.int32)
IDS = RNG.integers(0, 50, (2, 5)).astype(np.int32)

LAYER_CASES = {
    "embedding": (lambda: AlbertEmbedding(50, 8, 16, 2, dropout_rate=0.1), (IDS, np.zeros_like(IDS)), (2, 5, 8)),
    "attention": (lambda: SelfAttention(16, 4, dropout_rate=0.1), (HIDDEN, MASK), (2, 5, 16)),
    "block": (lambda: SharedTransformerBlock(16, 4, 24, "gelu", 0.1, 0.1), (HIDDEN, MASK), (2, 5, 16)),
    "masked_lm_head": (lambda: MaskedLMHead(50, 16, 8), (HIDDEN, RNG.standard_normal((50, 8)).astype(np.float32)),
                       (2, 5, 50)),
    "sentence_order_head": (lambda: SentenceOrderHead(16), (HIDDEN[:, 0],), (2, 2)),
}


@pytest.mark.parametrize("case", sorted(LAYER_CASES))
def test_layer_round_trips_through_its_config(case):
    make, args, expected_shape = LAYER_CASES[case]

    output = check_config_round_trip(make(), *args)

    assert tuple(output.shape) == expected_shape


@pytest.mark.parametrize("case", sorted(LAYER_CASES))
def test_layer_survives_keras_file_round_trip(case, tmp_path):
    make, args, _ = LAYER_CASES[case]

    check_layer_keras_save_load(make(), args, tmp_path)


def test_padded_keys_get_no_attention():
    attention = SelfAttention(16, 4)
    changed = HIDDEN.copy()
    changed[1, 3:] = 100.0  # the padded positions of sequence 1

    before, after = attention(HIDDEN, MASK), attention(changed, MASK)

    np.testing.assert_allclose(np.asarray(after)[1, :3], np.asarray(before)[1, :3], atol=1e-6)


def test_heads_compute_in_float32_under_mixed_precision():
    head = MaskedLMHead(50, 16, 8, dtype="mixed_bfloat16")

    logits = head(HIDDEN, RNG.standard_normal((50, 8)).astype(np.float32))

    assert logits.dtype == "float32"


@pytest.mark.parametrize("training", [False, True], ids=["inference", "training"])
def test_a_mixed_precision_block_keeps_its_float32_input_unrounded(training):
    block = SharedTransformerBlock(16, 4, 24, dtype="mixed_bfloat16")
    block.build()
    block.set_weights([np.zeros_like(w) if w.ndim == 2 or "bias" in w.path or "beta" in w.path else np.asarray(w)
                       for w in block.weights])
    # With zero kernels both branches add nothing: the block is LayerNorm(LayerNorm(x)), in float32.
    expected = layer_norm(layer_norm(HIDDEN.astype(np.float64), 1.0, 0.0), 1.0, 0.0)

    output = block(tf.constant(HIDDEN), MASK, training=training)

    # bfloat16 keeps 8 significant bits: rounding x would be off by ~1e-2 here.
    np.testing.assert_allclose(output, expected, atol=1e-5)

