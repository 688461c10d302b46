import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from albert_tf import AlbertConfig, AlbertEncoder, AlbertPretrainer, load_original_checkpoint
from tests import numpy_albert
from tests.conftest import write_tf1_checkpoint
from tests.harness import (check_config_round_trip, check_keras_save_load, outputs_close, randomly_initialized_weights,
                           weights_sharing_a_draw)

# Exact counts for the released v2 shapes, from the original variable list (vocab 30000).
RELEASED_PARAMETER_COUNTS = {
    "base": (11_683_584, 11_813_810),
    "large": (17_683_968, 17_847_474),
    "xlarge": (58_724_864, 59_021_490),
    "xxlarge": (222_595_584, 223_158_450),
}

# float32 kernels vs a float64 NumPy reference, over a few layers.
PARITY_ATOL = 1e-5

# A normal of standard deviation s truncated at 2s has standard deviation 0.879626 s.
TRUNCATED_NORMAL_STD_RATIO = 0.879626


def encoder_inputs(batch):
    return {k: batch[k] for k in ("input_word_ids", "input_mask", "input_type_ids")}


def loaded_pretrainer(config, tmp_path, dtype=None):
    weights = numpy_albert.random_weights(config)
    prefix = write_tf1_checkpoint(weights, str(tmp_path / "original" / "model.ckpt-1000"))
    pretrainer = AlbertPretrainer(config, dtype=dtype)
    load_original_checkpoint(pretrainer, prefix)
    return pretrainer, weights


@pytest.mark.parametrize("size", sorted(RELEASED_PARAMETER_COUNTS))
def test_released_configs_have_the_exact_parameter_counts(size):
    config = AlbertConfig.from_json_file(f"run/configs/albert_{size}.json")

    counts = (AlbertEncoder(config).count_params(), AlbertPretrainer(config).count_params())

    assert counts == RELEASED_PARAMETER_COUNTS[size]


def test_variables_do_not_grow_with_depth(grouped_config):
    shallow = AlbertEncoder(dataclasses.replace(grouped_config, num_hidden_layers=2))
    deep = AlbertEncoder(dataclasses.replace(grouped_config, num_hidden_layers=48))

    assert [v.shape for v in deep.weights] == [v.shape for v in shallow.weights]


def test_every_weight_of_a_new_model_is_its_own_random_draw(grouped_config):
    pretrainer = AlbertPretrainer(grouped_config)

    assert weights_sharing_a_draw(pretrainer) == []


def test_new_weights_follow_the_originals_truncated_normal(grouped_config):
    config = dataclasses.replace(grouped_config, initializer_range=0.05)
    values = np.concatenate(list(randomly_initialized_weights(AlbertPretrainer(config)).values()))

    # Over ~9,000 values the sample standard deviation is within 2% (about 3 standard errors).
    assert np.abs(values).max() <= 2 * 0.05 and np.std(values) == pytest.approx(
        TRUNCATED_NORMAL_STD_RATIO * 0.05, rel=0.02)


def test_forward_matches_numpy_reference_with_groups_and_padding(grouped_config, padded_batch, tmp_path):
    pretrainer, weights = loaded_pretrainer(grouped_config, tmp_path)
    sequence, pooled, layers = numpy_albert.encoder_forward(
        weights, grouped_config, padded_batch["input_word_ids"], padded_batch["input_mask"],
        padded_batch["input_type_ids"])
    mlm, sop = numpy_albert.pretraining_logits(weights, sequence, pooled, padded_batch["masked_lm_positions"])

    ours = pretrainer.encoder(encoder_inputs(padded_batch))
    heads = pretrainer(padded_batch)

    outputs_close([ours["sequence_output"], ours["pooled_output"], ours["encoder_outputs"],
                   heads["mlm_logits"], heads["sop_logits"]],
                  [sequence, pooled, layers, mlm, sop], atol=PARITY_ATOL)


def test_no_projection_when_embedding_and_hidden_widths_agree(grouped_config, padded_batch, tmp_path):
    config = dataclasses.replace(grouped_config, embedding_size=16)
    pretrainer, weights = loaded_pretrainer(config, tmp_path)
    sequence, _, _ = numpy_albert.encoder_forward(
        weights, config, padded_batch["input_word_ids"], padded_batch["input_mask"], padded_batch["input_type_ids"])

    ours = pretrainer.encoder(encoder_inputs(padded_batch))

    assert pretrainer.encoder.embedding_projection is None
    outputs_close(ours["sequence_output"], sequence, atol=PARITY_ATOL)


def test_one_output_per_layer_and_inner_group(grouped_config, padded_batch):
    encoder = AlbertEncoder(grouped_config)

    outputs = encoder(encoder_inputs(padded_batch))["encoder_outputs"]

    assert len(outputs) == grouped_config.num_hidden_layers * grouped_config.inner_group_num


def test_output_positions_get_the_full_outputs_rows(grouped_config, padded_batch):
    encoder = AlbertEncoder(grouped_config)
    positions = padded_batch["masked_lm_positions"]

    full = encoder(encoder_inputs(padded_batch))
    some = encoder({**encoder_inputs(padded_batch), "output_positions": positions})

    outputs_close([some["sequence_output"], some["pooled_output"], some["encoder_outputs"][:-1]],
                  [tf.gather(full["sequence_output"], positions, batch_dims=1), full["pooled_output"],
                   full["encoder_outputs"][:-1]], atol=1e-6)


def matmul_flops(function, inputs):
    """2·m·k·n summed over the 2-D matrix products of `function`'s graph for these inputs."""
    graph = tf.function(function).get_concrete_function(inputs).graph
    return sum(2 * np.prod(op.outputs[0].shape) * op.inputs[0].shape[-1]
               for op in graph.get_operations() if op.type == "MatMul")


def test_output_positions_spare_the_last_blocks_work_on_the_other_rows(grouped_config, padded_batch):
    encoder = AlbertEncoder(grouped_config)
    inputs = {k: tf.constant(v) for k, v in encoder_inputs(padded_batch).items()}
    positions = tf.constant(padded_batch["masked_lm_positions"])
    (batch, length), kept = inputs["input_word_ids"].shape, positions.shape[1] + 1  # + position 0, the pooler's
    hidden, intermediate = grouped_config.hidden_size, grouped_config.intermediate_size

    spared = matmul_flops(encoder, inputs) - matmul_flops(encoder, {**inputs, "output_positions": positions})

    # The query and output projections and both FFN products, on the rows not asked for.
    assert spared == batch * (length - kept) * (2 * hidden * hidden * 2 + 2 * hidden * intermediate * 2)


def test_xla_compiled_forward_equals_eager(grouped_config, padded_batch):
    pretrainer = AlbertPretrainer(grouped_config)

    compiled = tf.function(pretrainer, jit_compile=True)(padded_batch)

    outputs_close(compiled, pretrainer(padded_batch), atol=1e-5)


def test_mixed_bfloat16_keeps_normalization_and_logits_in_float32(grouped_config, padded_batch):
    full = AlbertPretrainer(grouped_config)
    mixed = AlbertPretrainer(grouped_config, dtype="mixed_bfloat16")
    mixed.set_weights(full.get_weights())

    outputs = mixed(padded_batch)

    block = mixed.encoder.shared_block(0, 0)
    assert (block.attention.compute_dtype, block.attention_layer_norm.compute_dtype) == ("bfloat16", "float32")
    assert outputs["mlm_logits"].dtype == "float32" and outputs["sop_logits"].dtype == "float32"
    # bfloat16 keeps 8 mantissa bits; logits of this size agree to a few hundredths.
    outputs_close(outputs, full(padded_batch), atol=5e-2)


def test_mixed_bfloat16_sums_the_embedding_tables_unrounded(grouped_config, padded_batch):
    full = AlbertEncoder(grouped_config)
    mixed = AlbertEncoder(grouped_config, dtype="mixed_bfloat16")
    mixed.set_weights(full.get_weights())
    ids, types = padded_batch["input_word_ids"], padded_batch["input_type_ids"]

    embedded = mixed.embeddings(ids, types)

    outputs_close(embedded, full.embeddings(ids, types), atol=0)


def test_sequence_longer_than_max_positions_is_a_clear_error(grouped_config):
    ids = np.ones((1, grouped_config.max_position_embeddings + 1), np.int32)

    with pytest.raises(ValueError, match="sequence length 33 exceeds max_position_embeddings=32"):
        AlbertEncoder(grouped_config)({"input_word_ids": ids})


def test_missing_input_key_is_named(grouped_config):
    with pytest.raises(ValueError, match="expects a dict of tensors with key 'input_word_ids'"):
        AlbertEncoder(grouped_config)({"input_ids": np.ones((1, 4), np.int32)})


def test_mask_and_type_ids_default_to_the_originals_defaults(grouped_config, padded_batch):
    encoder = AlbertEncoder(grouped_config)
    ids = padded_batch["input_word_ids"]

    defaulted = encoder({"input_word_ids": ids})
    explicit = encoder({"input_word_ids": ids, "input_mask": np.ones_like(ids), "input_type_ids": np.zeros_like(ids)})

    outputs_close(defaulted, explicit, atol=0)


@pytest.mark.parametrize("model_class", [AlbertEncoder, AlbertPretrainer])
def test_models_round_trip_through_config_and_keras_file(model_class, grouped_config, padded_batch, tmp_path):
    model = model_class(grouped_config, dtype="mixed_bfloat16")
    inputs = padded_batch if model_class is AlbertPretrainer else encoder_inputs(padded_batch)

    check_config_round_trip(model, inputs)
    check_keras_save_load(model, inputs, tmp_path)
