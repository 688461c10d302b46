import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from albert_tf import (AlbertEncoder, AlbertPretrainer, CheckpointMismatchError, load_checkpoint,
                       load_original_checkpoint, save_original_checkpoint)
from albert_tf.checkpoint import original_variable_map, save_native_checkpoint
from tests import numpy_albert
from tests.conftest import write_tf1_checkpoint


def checkpoint(config, tmp_path, with_heads=True, seed=0):
    weights = numpy_albert.random_weights(config, seed=seed, with_heads=with_heads)
    return weights, write_tf1_checkpoint(weights, str(tmp_path / "original" / "model.ckpt-1000"))


def test_name_table_covers_every_variable_once_with_the_original_shapes(grouped_config):
    pretrainer = AlbertPretrainer(grouped_config)

    table = original_variable_map(pretrainer)

    assert {name: tuple(v.shape) for name, v in table.items()} == numpy_albert.original_shapes(grouped_config)
    assert sorted(id(v) for v in table.values()) == sorted(id(v) for v in pretrainer.weights)


def test_loaded_weights_equal_the_checkpoint(grouped_config, tmp_path):
    weights, prefix = checkpoint(grouped_config, tmp_path)
    pretrainer = AlbertPretrainer(grouped_config)

    load_original_checkpoint(pretrainer, prefix)

    for name, variable in original_variable_map(pretrainer).items():
        np.testing.assert_array_equal(variable.numpy(), weights[name], err_msg=name)


def test_a_directory_resolves_to_its_latest_checkpoint(grouped_config, tmp_path):
    _, prefix = checkpoint(grouped_config, tmp_path)

    report = load_original_checkpoint(AlbertPretrainer(grouped_config), str(tmp_path / "original"))

    assert len(report.loaded) == len(numpy_albert.original_shapes(grouped_config))


def test_encoder_only_checkpoint_into_pretrainer_names_the_missing_heads(grouped_config, tmp_path):
    _, prefix = checkpoint(grouped_config, tmp_path, with_heads=False)

    with pytest.raises(CheckpointMismatchError, match=r"(?s)head variables missing.*cls/seq_relationship/output_bias \[2\]"):
        load_original_checkpoint(AlbertPretrainer(grouped_config), prefix)


def test_missing_heads_can_be_allowed_and_are_reported(grouped_config, tmp_path):
    _, prefix = checkpoint(grouped_config, tmp_path, with_heads=False)

    report = load_original_checkpoint(AlbertPretrainer(grouped_config), prefix, allow_missing_heads=True)

    assert report.missing_heads == [n for n in numpy_albert.original_shapes(grouped_config) if n.startswith("cls/")]


def test_pretraining_checkpoint_into_encoder_reports_the_unused_heads(grouped_config, tmp_path):
    _, prefix = checkpoint(grouped_config, tmp_path)

    report = load_original_checkpoint(AlbertEncoder(grouped_config), prefix)

    assert report.unused == sorted(n for n in numpy_albert.original_shapes(grouped_config) if n.startswith("cls/"))


def test_checkpoint_of_another_shape_lists_names_and_shapes(grouped_config, tmp_path):
    _, prefix = checkpoint(grouped_config, tmp_path)
    wider = dataclasses.replace(grouped_config, intermediate_size=32)

    with pytest.raises(CheckpointMismatchError,
                       match=r"ffn_1/intermediate/dense/kernel: \[16, 24\] vs \[16, 32\]"):
        load_original_checkpoint(AlbertPretrainer(wider), prefix)


def test_checkpoint_with_more_groups_lists_the_unexpected_ones(grouped_config, tmp_path):
    _, prefix = checkpoint(grouped_config, tmp_path)
    one_group = dataclasses.replace(grouped_config, num_hidden_groups=1, inner_group_num=1)

    with pytest.raises(CheckpointMismatchError, match=r"(?s)not in the model:.*group_1/inner_group_1/"):
        load_original_checkpoint(AlbertPretrainer(one_group), prefix)


def test_checkpoint_with_fewer_groups_lists_the_missing_ones_with_their_shapes(grouped_config, tmp_path):
    _, prefix = checkpoint(dataclasses.replace(grouped_config, num_hidden_groups=1), tmp_path)

    with pytest.raises(CheckpointMismatchError,
                       match=r"(?s)missing from the checkpoint:.*group_1/inner_group_1/ffn_1/intermediate/dense/kernel \[16, 24\]"):
        load_original_checkpoint(AlbertPretrainer(grouped_config), prefix)


def test_nothing_is_assigned_when_the_checkpoint_does_not_fit(grouped_config, tmp_path):
    _, prefix = checkpoint(grouped_config, tmp_path, with_heads=False)
    pretrainer = AlbertPretrainer(grouped_config)
    before = [w.copy() for w in pretrainer.get_weights()]

    with pytest.raises(CheckpointMismatchError):
        load_original_checkpoint(pretrainer, prefix)

    assert all(np.array_equal(a, b) for a, b in zip(before, pretrainer.get_weights()))


def test_nothing_is_assigned_when_a_native_checkpoint_does_not_fit(grouped_config, tmp_path):
    wider_ffn = dataclasses.replace(grouped_config, intermediate_size=32)
    prefix = save_native_checkpoint(AlbertPretrainer(wider_ffn), str(tmp_path / "native" / "ckpt"))
    pretrainer = AlbertPretrainer(grouped_config)
    before = [w.copy() for w in pretrainer.get_weights()]

    with pytest.raises(CheckpointMismatchError, match="does not fit the model"):
        load_checkpoint(pretrainer, prefix)

    assert all(np.array_equal(a, b) for a, b in zip(before, pretrainer.get_weights()))


def test_init_from_group0_copies_group_0_into_every_group(grouped_config, tmp_path):
    one_group = dataclasses.replace(grouped_config, num_hidden_groups=1)
    weights, prefix = checkpoint(one_group, tmp_path)
    pretrainer = AlbertPretrainer(grouped_config)

    load_original_checkpoint(pretrainer, prefix, init_from_group0=True)

    np.testing.assert_array_equal(
        pretrainer.encoder.shared_block(1, 1).intermediate.kernel.numpy(),
        weights["bert/encoder/transformer/group_0/inner_group_1/ffn_1/intermediate/dense/kernel"])


def test_init_from_group0_reads_a_group_the_checkpoint_has_under_its_own_name(grouped_config, tmp_path):
    # As the original's assignment map: only groups missing from the checkpoint come from group_0.
    weights, prefix = checkpoint(grouped_config, tmp_path)  # groups 0 and 1
    three_groups = AlbertPretrainer(dataclasses.replace(grouped_config, num_hidden_groups=3))
    kernel = "bert/encoder/transformer/group_{}/inner_group_0/attention_1/self/query/kernel"

    load_original_checkpoint(three_groups, prefix, init_from_group0=True)

    encoder = three_groups.encoder
    assert [np.array_equal(encoder.shared_block(g, 0).attention.query.kernel.numpy(), weights[kernel.format(source)])
            for g, source in ((0, 0), (1, 1), (2, 0))] == [True, True, True]


def test_native_checkpoint_is_refused_with_a_pointer(grouped_config, tmp_path):
    encoder = AlbertEncoder(grouped_config)
    prefix = tf.train.Checkpoint(model=encoder).write(str(tmp_path / "native" / "ckpt"))

    with pytest.raises(CheckpointMismatchError, match="native TF2 checkpoint"):
        load_original_checkpoint(encoder, prefix)


def test_missing_checkpoint_is_named(grouped_config, tmp_path):
    with pytest.raises(FileNotFoundError, match=r"no checkpoint at .*model\.ckpt-5: expected .*\.index"):
        load_original_checkpoint(AlbertEncoder(grouped_config), str(tmp_path / "model.ckpt-5"))


def test_saved_original_checkpoint_holds_the_same_tensors_under_original_names(grouped_config, tmp_path):
    weights, prefix = checkpoint(grouped_config, tmp_path)
    pretrainer = AlbertPretrainer(grouped_config)
    load_original_checkpoint(pretrainer, prefix)

    saved = save_original_checkpoint(pretrainer, str(tmp_path / "again" / "model.ckpt-7"), global_step=7)

    reader = tf.train.load_checkpoint(saved)
    assert reader.get_tensor("global_step") == 7
    for name, value in weights.items():
        np.testing.assert_array_equal(reader.get_tensor(name), value, err_msg=name)
