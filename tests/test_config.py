import json

import pytest

from albert_tf import AlbertConfig


def write_json(tmp_path, values):
    path = tmp_path / "albert_config.json"
    path.write_text(json.dumps(values))
    return str(path)


def test_reads_original_json_and_keeps_unknown_keys(tmp_path):
    path = write_json(tmp_path, {"vocab_size": 30000, "hidden_size": 768, "num_attention_heads": 12,
                                 "intermediate_size": 3072, "net_structure_type": 0, "layers_to_keep": []})

    config = AlbertConfig.from_json_file(path)

    assert config.to_dict()["net_structure_type"] == 0 and config.hidden_size == 768


def test_json_round_trip_is_lossless(tmp_path):
    config = AlbertConfig(vocab_size=100, hidden_size=64, num_attention_heads=4, intermediate_size=128,
                          extra={"gap_size": 0})

    assert AlbertConfig.from_json_file(write_json(tmp_path, config.to_dict())) == config


def test_missing_vocab_size_names_the_field_and_file(tmp_path):
    path = write_json(tmp_path, {"hidden_size": 768})

    with pytest.raises(ValueError, match=r"albert_config\.json: required field 'vocab_size'"):
        AlbertConfig.from_json_file(path)


def test_wrong_type_names_the_field(tmp_path):
    path = write_json(tmp_path, {"vocab_size": 100, "hidden_size": "768"})

    with pytest.raises(ValueError, match=r"field 'hidden_size' must be int, got '768'"):
        AlbertConfig.from_json_file(path)


def test_invalid_json_names_the_position(tmp_path):
    path = tmp_path / "albert_config.json"
    path.write_text('{"vocab_size": 100,,}')

    with pytest.raises(ValueError, match=r"not valid JSON .* line 1"):
        AlbertConfig.from_json_file(str(path))


def test_missing_file_is_named():
    with pytest.raises(FileNotFoundError, match="no/such/albert_config.json"):
        AlbertConfig.from_json_file("no/such/albert_config.json")


def test_heads_must_divide_hidden_size():
    with pytest.raises(ValueError, match="not a multiple of num_attention_heads"):
        AlbertConfig(vocab_size=10, hidden_size=10, num_attention_heads=3)


def test_group_index_keeps_the_original_float_formula():
    config = AlbertConfig(vocab_size=10, hidden_size=8, num_attention_heads=1,
                          num_hidden_layers=22, num_hidden_groups=22)

    # int(15 / 22 * 22) == 14 in IEEE doubles, so group 15 is never used, as in the original.
    assert config.group_index(15) == 14 and 15 not in config.used_groups
