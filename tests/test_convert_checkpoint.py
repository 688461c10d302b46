import numpy as np
import pytest
import tensorflow as tf

from albert_tf import AlbertEncoder, AlbertPretrainer, CheckpointMismatchError, load_checkpoint
from albert_tf.checkpoint import save_native_checkpoint
from tests import numpy_albert
from tests.conftest import run_script, write_tf1_checkpoint


def convert(config_file, source, target):
    run_script("convert_checkpoint.py", f"--albert_config_file={config_file}", f"--input_checkpoint={source}",
               f"--output_checkpoint={target}")


@pytest.mark.parametrize("with_heads", [True, False])
def test_original_to_native_and_back_gives_identical_tensors(grouped_config, tmp_path, with_heads):
    config_file = tmp_path / "albert_config.json"
    config_file.write_text(grouped_config.to_json_string())
    weights = numpy_albert.random_weights(grouped_config, with_heads=with_heads)
    original = write_tf1_checkpoint(weights, str(tmp_path / "original" / "model.ckpt-1000"))

    convert(config_file, original, tmp_path / "native" / "ckpt")
    convert(config_file, tmp_path / "native" / "ckpt", tmp_path / "back" / "model.ckpt")

    reader = tf.train.load_checkpoint(str(tmp_path / "back" / "model.ckpt"))
    assert set(reader.get_variable_to_shape_map()) == set(weights)
    for name, value in weights.items():
        np.testing.assert_array_equal(reader.get_tensor(name), value, err_msg=name)


def test_load_checkpoint_reads_either_format_into_either_model(grouped_config, padded_batch, tmp_path):
    weights = numpy_albert.random_weights(grouped_config)
    original = write_tf1_checkpoint(weights, str(tmp_path / "original" / "model.ckpt-1000"))
    pretrainer = AlbertPretrainer(grouped_config)
    load_checkpoint(pretrainer, original)
    native = save_native_checkpoint(pretrainer, str(tmp_path / "native" / "ckpt"))
    encoder = AlbertEncoder(grouped_config)

    load_checkpoint(encoder, native)

    inputs = {k: padded_batch[k] for k in ("input_word_ids", "input_mask", "input_type_ids")}
    np.testing.assert_array_equal(encoder(inputs)["sequence_output"], pretrainer.encoder(inputs)["sequence_output"])


def test_native_encoder_checkpoint_into_pretrainer_needs_allow_missing_heads(grouped_config, tmp_path):
    native = save_native_checkpoint(AlbertEncoder(grouped_config), str(tmp_path / "native" / "ckpt"))

    with pytest.raises(CheckpointMismatchError, match="has no \\['masked_lm_head', 'sentence_order_head'\\]"):
        load_checkpoint(AlbertPretrainer(grouped_config), native)
    load_checkpoint(AlbertPretrainer(grouped_config), native, allow_missing_heads=True)
