import glob
import json
import os

import pytest

from albert_tf import AlbertConfig
from albert_tf.checkpoint.huggingface import DEFAULTS, albert_config_from_huggingface
from tests.conftest import REPO_ROOT

# The shape every released albert_config.json states (ALBERT-base's).
BASE_SHAPE = {"vocab_size": 30000, "embedding_size": 128, "hidden_size": 768, "num_hidden_layers": 12,
              "num_attention_heads": 12, "intermediate_size": 3072}


def write_json(tmp_path, values):
    path = tmp_path / "albert_config.json"
    path.write_text(json.dumps(values))
    return str(path)


def test_reads_original_json_and_keeps_unknown_keys(tmp_path):
    path = write_json(tmp_path, {**BASE_SHAPE, "net_structure_type": 0, "layers_to_keep": []})

    config = AlbertConfig.from_json_file(path)

    assert config.to_dict()["net_structure_type"] == 0 and config.hidden_size == 768


def test_json_round_trip_is_lossless(tmp_path):
    config = AlbertConfig(vocab_size=100, hidden_size=64, num_attention_heads=4, intermediate_size=128,
                          extra={"gap_size": 0})

    assert AlbertConfig.from_json_file(write_json(tmp_path, config.to_dict())) == config


def test_missing_vocab_size_names_the_field_and_file(tmp_path):
    path = write_json(tmp_path, {key: value for key, value in BASE_SHAPE.items() if key != "vocab_size"})

    with pytest.raises(ValueError, match=r"albert_config\.json: required field\(s\) missing: vocab_size "):
        AlbertConfig.from_json_file(path)


def test_missing_shape_fields_are_an_error_naming_the_file_and_fields_not_xxlarge_defaults(tmp_path):
    path = write_json(tmp_path, {"vocab_size": 30000, "hidden_size": 768, "num_attention_heads": 12})

    with pytest.raises(ValueError, match=r"albert_config\.json: required field\(s\) missing: embedding_size, "
                                         r"num_hidden_layers, intermediate_size "):
        AlbertConfig.from_json_file(path)


def test_a_misspelled_field_is_an_error_that_suggests_the_known_one(tmp_path):
    shape = {**BASE_SHAPE}
    shape["hiden_size"] = shape.pop("hidden_size")
    path = write_json(tmp_path, shape)

    with pytest.raises(ValueError, match=r"albert_config\.json: unknown field 'hiden_size'; did you mean hidden_size\?"):
        AlbertConfig.from_json_file(path)


def test_an_unknown_field_that_is_no_near_miss_is_kept_with_a_warning(tmp_path, absl_log):
    path = write_json(tmp_path, {**BASE_SHAPE, "comment": "my run"})

    config = AlbertConfig.from_json_file(path)

    assert config.extra == {"comment": "my run"} and "unknown field 'comment'" in absl_log.text


def test_keys_of_the_originals_and_huggingface_configs_are_accepted_silently(tmp_path, absl_log):
    path = write_json(tmp_path, {**BASE_SHAPE, "net_structure_type": 0, "gap_size": 0, "num_memory_blocks": 0,
                                 "down_scale_factor": 1, "layers_to_keep": [], "model_type": "albert",
                                 "architectures": ["AlbertForMaskedLM"], "layer_norm_eps": 1e-12,
                                 "classifier_dropout_prob": 0.1, "pad_token_id": 0, "bos_token_id": 2,
                                 "eos_token_id": 3})

    AlbertConfig.from_json_file(path)

    assert "unknown field" not in absl_log.text


def test_a_huggingface_config_json_leaving_out_its_defaults_still_loads():
    assert albert_config_from_huggingface({"model_type": "albert", "hidden_size": 768, "num_attention_heads": 12,
                                           "intermediate_size": 3072}).vocab_size == DEFAULTS["vocab_size"]


@pytest.mark.parametrize("path", sorted(glob.glob(os.path.join(REPO_ROOT, "run", "configs", "*.json"))),
                         ids=os.path.basename)
def test_every_config_file_in_the_repository_loads(path):
    assert AlbertConfig.from_json_file(path).vocab_size > 0


def test_wrong_type_names_the_field(tmp_path):
    path = write_json(tmp_path, {**BASE_SHAPE, "hidden_size": "768"})

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
