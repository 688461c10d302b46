"""Every checkpoint format behind one path: Hugging Face folders, keras-hub presets, TF1 Hub modules.

The Hugging Face fixtures are written here with `safetensors` under transformers' names, renamed
from the original TF1 names by rules written in this file (not by the library's table), and the
key lists are checked against `tests/data/huggingface_state_dict_keys.json`, the state dicts of
transformers' own classes. keras-hub fixtures are saved by keras-hub itself.
"""

import dataclasses
import json
import os
import re
import shutil

import numpy as np
import pytest
import tensorflow as tf
from safetensors.numpy import save_file

from albert_tf import (AlbertClassifier, AlbertConfig, AlbertEncoder, AlbertMultipleChoice, AlbertPretrainer,
                       AlbertQuestionAnswerer, CheckpointMismatchError, FullTokenizer)
from albert_tf.checkpoint import (build_model, inspect_checkpoint, load_checkpoint, load_original_checkpoint,
                                  save_checkpoint)
from albert_tf.checkpoint.huggingface import albert_config_from_huggingface, huggingface_config
from tests import numpy_albert
from albert_tf.finetuning.features import encode_text
from tests.conftest import REPO_ROOT, run_script, write_tf1_checkpoint
from tests.harness import HUGGINGFACE_CLASSES as MODELS
from tests.harness import randomized
from tests.serving_client import serve

SAMPLE_SPM = os.path.join(REPO_ROOT, "tfrecords", "sample", "botchan.model")
TRANSFORMERS_KEYS = os.path.join(REPO_ROOT, "tests", "data", "huggingface_state_dict_keys.json")
ENCODER_INPUTS = ("input_word_ids", "input_mask", "input_type_ids")


def encoder_inputs(batch):
    return {key: batch[key] for key in ENCODER_INPUTS}


def weights_of(model):
    return {weight.path: np.asarray(weight) for weight in model.weights}


def assert_same_weights(model, other, skip=()):
    expected = {path: value for path, value in weights_of(model).items() if not any(part in path for part in skip)}
    actual = {path: value for path, value in weights_of(other).items() if not any(part in path for part in skip)}
    assert list(actual) == list(expected)
    for path, value in expected.items():
        np.testing.assert_array_equal(actual[path], value, err_msg=path)


# --- Hugging Face: an independent rename of the original names ---------------------------------------

# Written from transformers' modeling_albert.py module tree, not from albert_tf's table.
HF_WHOLE_NAMES = {
    "bert/embeddings/word_embeddings": "albert.embeddings.word_embeddings.weight",
    "bert/embeddings/token_type_embeddings": "albert.embeddings.token_type_embeddings.weight",
    "bert/embeddings/position_embeddings": "albert.embeddings.position_embeddings.weight",
    "cls/predictions/output_bias": "predictions.bias",
    "cls/seq_relationship/output_weights": "sop_classifier.classifier.weight",  # [2, H] in both
    "cls/seq_relationship/output_bias": "sop_classifier.classifier.bias",
}
HF_SCOPES = {
    "bert/embeddings/LayerNorm": "albert.embeddings.LayerNorm",
    "bert/encoder/embedding_hidden_mapping_in": "albert.encoder.embedding_hidden_mapping_in",
    "bert/pooler/dense": "albert.pooler",
    "cls/predictions/transform/dense": "predictions.dense",
    "cls/predictions/transform/LayerNorm": "predictions.LayerNorm",
}
HF_LAYER_SCOPES = {
    "attention_1/self/query": "attention.query", "attention_1/self/key": "attention.key",
    "attention_1/self/value": "attention.value", "attention_1/output/dense": "attention.dense",
    "LayerNorm": "attention.LayerNorm", "ffn_1/intermediate/dense": "ffn",
    "ffn_1/intermediate/output/dense": "ffn_output", "LayerNorm_1": "full_layer_layer_norm",
}
HF_LEAVES = {"kernel": "weight", "bias": "bias", "gamma": "weight", "beta": "bias"}


def huggingface_tensors(original_weights):
    """{transformers name: array} for weights under the original TF1 names (nn.Linear weights transposed)."""
    tensors = {}
    for name, value in original_weights.items():
        if name in HF_WHOLE_NAMES:
            tensors[HF_WHOLE_NAMES[name]] = value
            continue
        scope, leaf = name.rsplit("/", 1)
        layer = re.fullmatch(r"bert/encoder/transformer/group_(\d+)/inner_group_(\d+)/(.+)", scope)
        if layer:
            group, inner_group, part = layer.groups()
            scope = f"albert.encoder.albert_layer_groups.{group}.albert_layers.{inner_group}.{HF_LAYER_SCOPES[part]}"
        else:
            scope = HF_SCOPES[scope]
        tensors[f"{scope}.{HF_LEAVES[leaf]}"] = np.ascontiguousarray(value.T if leaf == "kernel" else value)
    return tensors


def write_huggingface_folder(path, config, tensors, architecture, **extra_config):
    path.mkdir(parents=True)
    save_file(tensors, str(path / "model.safetensors"), metadata={"format": "pt"})
    values = {**huggingface_config(config, architecture), **extra_config}
    (path / "config.json").write_text(json.dumps(values))
    shutil.copy(SAMPLE_SPM, path / "spiece.model")
    (path / "tokenizer_config.json").write_text(json.dumps({"do_lower_case": False}))
    return str(path)


@pytest.fixture
def pretraining_folder(grouped_config, tmp_path):
    """An AlbertForPreTraining folder of the weights `numpy_albert.random_weights` draws, and their TF1 twin."""
    weights = numpy_albert.random_weights(grouped_config)
    tensors = huggingface_tensors(weights)
    tensors["predictions.decoder.weight"] = tensors["albert.embeddings.word_embeddings.weight"]
    tensors["predictions.decoder.bias"] = tensors["predictions.bias"]
    folder = write_huggingface_folder(tmp_path / "hf", grouped_config, tensors, "AlbertForPreTraining")
    return folder, write_tf1_checkpoint(weights, str(tmp_path / "tf1" / "model.ckpt-1"))


def transformers_keys(architecture):
    with open(TRANSFORMERS_KEYS) as f:
        return {name: tuple(shape) for name, shape in json.load(f)[architecture].items()}


def test_the_independent_rename_gives_transformers_own_names(pretraining_folder):
    from safetensors import safe_open

    with safe_open(os.path.join(pretraining_folder[0], "model.safetensors"), framework="np") as f:
        written = {key: tuple(f.get_slice(key).get_shape()) for key in f.keys()}

    assert written == transformers_keys("AlbertForPreTraining")


def test_a_huggingface_folder_loads_the_same_weights_as_its_tf1_twin(grouped_config, pretraining_folder):
    folder, tf1_checkpoint = pretraining_folder
    from_folder, from_tf1 = AlbertPretrainer(grouped_config), AlbertPretrainer(grouped_config)

    load_checkpoint(from_folder, folder)
    load_original_checkpoint(from_tf1, tf1_checkpoint)

    assert_same_weights(from_tf1, from_folder)


@pytest.mark.parametrize("architecture", MODELS)
def test_a_written_folder_has_exactly_transformers_keys_and_shapes(architecture, grouped_config, tmp_path):
    from safetensors import safe_open

    folder = save_checkpoint(MODELS[architecture](grouped_config), str(tmp_path / "hf"), "huggingface")

    with safe_open(os.path.join(folder, "model.safetensors"), framework="np") as f:
        written = {key: tuple(f.get_slice(key).get_shape()) for key in f.keys()}
    assert written == transformers_keys(architecture)


@pytest.mark.parametrize("architecture", MODELS)
def test_each_model_comes_back_from_its_huggingface_folder_unchanged(architecture, grouped_config, tmp_path):
    model = randomized(MODELS[architecture](grouped_config))
    folder = save_checkpoint(model, str(tmp_path / "hf"), "huggingface", spm_model_file=SAMPLE_SPM)
    info = inspect_checkpoint(folder)

    restored = build_model(info)
    load_checkpoint(restored, folder)

    # transformers' question answering model has no pooler (ours has one and does not use it)
    assert_same_weights(model, restored, skip=("pooler",) if architecture == "AlbertForQuestionAnswering" else ())


def test_a_masked_lm_folder_fills_a_pretrainer_but_its_pooler_and_sentence_order_head(grouped_config, pretraining_folder,
                                                                                      tmp_path):
    from safetensors.numpy import load_file

    tensors = {name: value for name, value in load_file(os.path.join(pretraining_folder[0], "model.safetensors")).items()
               if not name.startswith(("albert.pooler.", "sop_classifier."))}
    folder = write_huggingface_folder(tmp_path / "mlm", grouped_config, tensors, "AlbertForMaskedLM")

    report = load_checkpoint(AlbertPretrainer(grouped_config), folder, allow_missing_heads=True)

    assert report.missing_heads == ["albert.pooler.weight", "albert.pooler.bias", "sop_classifier.classifier.weight",
                                    "sop_classifier.classifier.bias"]


def test_without_allow_missing_heads_a_masked_lm_folder_names_what_the_pretrainer_misses(grouped_config, tmp_path):
    folder = save_checkpoint(AlbertPretrainer(grouped_config), str(tmp_path / "hf"), "huggingface")
    config_file = os.path.join(folder, "config.json")
    values = json.load(open(config_file))
    json.dump({**values, "architectures": ["AlbertForMaskedLM"]}, open(config_file, "w"))
    tensors_file = os.path.join(folder, "model.safetensors")
    from safetensors.numpy import load_file
    save_file({k: v for k, v in load_file(tensors_file).items() if not k.startswith("sop_")}, tensors_file,
              metadata={"format": "pt"})

    with pytest.raises(CheckpointMismatchError, match=r"(?s)head variables missing.*sop_classifier\.classifier\.weight"):
        load_checkpoint(AlbertPretrainer(grouped_config), folder)


def test_a_classifier_folder_brings_its_label_names_and_tokenizer_settings(grouped_config, tmp_path):
    folder = save_checkpoint(AlbertClassifier(grouped_config, 3), str(tmp_path / "hf"), "huggingface",
                             spm_model_file=SAMPLE_SPM, do_lower_case=False, label_names=("neg", "neutral", "pos"))

    info = inspect_checkpoint(folder)

    assert (info.format, info.task, info.label_names, info.do_lower_case, os.path.basename(info.spm_model_file)) == (
        "huggingface", "classifier", ("neg", "neutral", "pos"), False, "spiece.model")


def test_a_regression_folder_is_a_one_class_classifier(grouped_config, tmp_path):
    folder = save_checkpoint(AlbertClassifier(grouped_config, 1), str(tmp_path / "hf"), "huggingface",
                             label_names=("score",))

    values = json.load(open(os.path.join(folder, "config.json")))

    assert (values["problem_type"], build_model(inspect_checkpoint(folder)).num_labels) == ("regression", 1)


def test_a_bare_albert_model_file_without_the_albert_prefix_loads(grouped_config, pretraining_folder, tmp_path):
    from safetensors.numpy import load_file

    tensors = {name[len("albert."):]: value
               for name, value in load_file(os.path.join(pretraining_folder[0], "model.safetensors")).items()
               if name.startswith("albert.")}
    folder = write_huggingface_folder(tmp_path / "bare", grouped_config, tensors, "AlbertModel")
    expected = AlbertEncoder(grouped_config)
    load_original_checkpoint(expected, pretraining_folder[1])
    encoder = AlbertEncoder(grouped_config)

    load_checkpoint(encoder, folder)

    assert_same_weights(expected, encoder)


def test_bfloat16_weights_are_widened_exactly(grouped_config, tmp_path):
    model = randomized(AlbertEncoder(grouped_config))
    for weight in model.weights:  # values that bfloat16 holds exactly
        weight.assign(tf.cast(tf.cast(weight, tf.bfloat16), tf.float32))
    folder = save_checkpoint(model, str(tmp_path / "hf"), "huggingface")
    rewrite_as_bfloat16(os.path.join(folder, "model.safetensors"))
    restored = AlbertEncoder(grouped_config)

    load_checkpoint(restored, folder)

    assert_same_weights(model, restored)


def rewrite_as_bfloat16(file):
    """Rewrites a float32 safetensors file as BF16 by hand (NumPy cannot write bfloat16)."""
    from safetensors.numpy import load_file

    tensors = load_file(file)
    header, data = {"__metadata__": {"format": "pt"}}, b""
    for name, value in tensors.items():
        raw = (value.astype(np.float32).view(np.uint32) >> 16).astype("<u2").tobytes()
        header[name] = {"dtype": "BF16", "shape": list(value.shape), "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    encoded = json.dumps(header).encode()
    with open(file, "wb") as f:
        f.write(len(encoded).to_bytes(8, "little") + encoded + data)


def test_embedding_size_equal_to_hidden_size_round_trips_through_an_identity_projection(tmp_path):
    config = AlbertConfig(vocab_size=97, embedding_size=16, hidden_size=16, num_hidden_layers=2,
                          num_attention_heads=4, intermediate_size=24, max_position_embeddings=32)
    model = randomized(AlbertEncoder(config))
    folder = save_checkpoint(model, str(tmp_path / "hf"), "huggingface")
    restored = AlbertEncoder(config)

    load_checkpoint(restored, folder)

    assert_same_weights(model, restored)


def test_a_projection_that_is_not_the_identity_cannot_be_dropped(tmp_path):
    config = AlbertConfig(vocab_size=97, embedding_size=16, hidden_size=16, num_hidden_layers=2,
                          num_attention_heads=4, intermediate_size=24, max_position_embeddings=32)
    folder = save_checkpoint(AlbertEncoder(config), str(tmp_path / "hf"), "huggingface")
    from safetensors.numpy import load_file
    file = os.path.join(folder, "model.safetensors")
    tensors = load_file(file)
    tensors["encoder.embedding_hidden_mapping_in.weight"] = 2 * tensors["encoder.embedding_hidden_mapping_in.weight"]
    save_file(tensors, file, metadata={"format": "pt"})

    with pytest.raises(CheckpointMismatchError, match="embedding_hidden_mapping_in is not the identity"):
        load_checkpoint(AlbertEncoder(config), folder)


# --- Hugging Face configs ------------------------------------------------------------------------

def test_config_json_keys_left_out_take_transformers_defaults():
    config = albert_config_from_huggingface({"vocab_size": 97, "hidden_size": 16, "num_attention_heads": 4,
                                             "intermediate_size": 24, "model_type": "albert"})

    assert (config.embedding_size, config.num_hidden_layers, config.hidden_act, config.max_position_embeddings) == (
        128, 12, "gelu", 512)


def test_config_survives_the_trip_through_config_json(grouped_config):
    config = dataclasses.replace(grouped_config, extra={"net_structure_type": 0, "gap_size": 0})

    again = albert_config_from_huggingface(huggingface_config(config, "AlbertModel"))

    assert (again, again.extra) == (config, config.extra)


def test_transformers_gelu_is_the_exact_gelu_and_gelu_new_the_originals():
    names = [albert_config_from_huggingface({"hidden_act": act}).hidden_act for act in ("gelu", "gelu_new")]

    assert names == ["gelu_exact", "gelu"]


@pytest.mark.parametrize("values, message", [
    ({"model_type": "bert"}, "model_type is 'bert', not 'albert'"),
    ({"layer_norm_eps": 1e-5}, "layer_norm_eps=1e-05 is not supported"),
    ({"hidden_act": "swish"}, "hidden_act='swish' is not one of"),
    ({"position_embedding_type": "relative_key"}, "position_embedding_type='relative_key' is not supported"),
    ({"architectures": ["AlbertForTokenClassification"]}, "AlbertForTokenClassification is not supported"),
])
def test_a_config_json_albert_tf_cannot_follow_is_refused_by_name(values, message, grouped_config, tmp_path):
    folder = save_checkpoint(AlbertEncoder(grouped_config), str(tmp_path / "hf"), "huggingface")
    config_file = os.path.join(folder, "config.json")
    json.dump({**json.load(open(config_file)), **values}, open(config_file, "w"))

    with pytest.raises(ValueError, match=re.escape(message)):
        inspect_checkpoint(folder)


# --- Hugging Face bad input ----------------------------------------------------------------------

def test_a_pytorch_pickle_is_refused_without_being_opened(grouped_config, tmp_path):
    folder = tmp_path / "hf"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(huggingface_config(grouped_config, "AlbertModel")))
    (folder / "pytorch_model.bin").write_bytes(b"not a pickle: opening it would fail differently")

    with pytest.raises(ValueError, match="pytorch_model.bin, a pickle, which albert_tf never loads.*save_pretrained"):
        load_checkpoint(AlbertEncoder(grouped_config), str(folder))


def test_a_folder_with_a_config_and_no_weights_is_named(grouped_config, tmp_path):
    (tmp_path / "config.json").write_text(json.dumps(huggingface_config(grouped_config, "AlbertModel")))

    with pytest.raises(ValueError, match="has a config.json but no weights"):
        inspect_checkpoint(str(tmp_path))


def test_weights_that_do_not_fit_the_folders_config_are_listed(grouped_config, tmp_path):
    folder = save_checkpoint(AlbertEncoder(grouped_config), str(tmp_path / "hf"), "huggingface")
    config_file = os.path.join(folder, "config.json")
    json.dump({**json.load(open(config_file)), "intermediate_size": 32}, open(config_file, "w"))
    model = build_model(inspect_checkpoint(folder))

    with pytest.raises(CheckpointMismatchError, match=r"shape mismatch.*\n.*ffn.bias: \[24\] vs \[32\]"):
        load_checkpoint(model, folder)


def test_a_model_whose_config_differs_from_the_folders_is_refused(grouped_config, tmp_path):
    folder = save_checkpoint(AlbertEncoder(grouped_config), str(tmp_path / "hf"), "huggingface")
    other_heads = AlbertEncoder(dataclasses.replace(grouped_config, num_attention_heads=2))

    with pytest.raises(CheckpointMismatchError, match="num_attention_heads: model 2, checkpoint 4"):
        load_checkpoint(other_heads, folder)


def test_a_shape_transformers_groups_differently_is_refused(tmp_path):
    # 22 layers, 22 groups: the original's float formula sends layer 15 to group 14, transformers to 15.
    config = AlbertConfig(vocab_size=97, embedding_size=8, hidden_size=8, num_hidden_layers=22, num_hidden_groups=22,
                          num_attention_heads=2, intermediate_size=8, max_position_embeddings=8)

    with pytest.raises(ValueError, match="transformers assigns layers to groups as"):
        save_checkpoint(AlbertEncoder(config), str(tmp_path / "hf"), "huggingface")


def test_a_squad_2_model_has_no_huggingface_class(grouped_config, tmp_path):
    with pytest.raises(ValueError, match="transformers has no class for the SQuAD 2.0 model"):
        save_checkpoint(AlbertQuestionAnswerer(grouped_config, version_2_with_negative=True), str(tmp_path / "hf"),
                        "huggingface")


def test_an_existing_folder_is_not_overwritten_unless_asked(grouped_config, tmp_path):
    (tmp_path / "hf").mkdir()
    (tmp_path / "hf" / "mine.txt").write_text("keep")

    with pytest.raises(FileExistsError, match="exists and is not empty; pass --overwrite"):
        save_checkpoint(AlbertEncoder(grouped_config), str(tmp_path / "hf"), "huggingface")


# --- what a path holds --------------------------------------------------------------------------

@pytest.mark.parametrize("model, task, num_labels", [
    (lambda c: AlbertEncoder(c), "encoder", None), (lambda c: AlbertPretrainer(c), "pretraining", None),
    (lambda c: AlbertClassifier(c, 5), "classifier", 5), (lambda c: AlbertQuestionAnswerer(c), "squad", None),
    (lambda c: AlbertQuestionAnswerer(c, version_2_with_negative=True), "squad_v2", None),
    (lambda c: AlbertMultipleChoice(c), "multiple_choice", None)])
@pytest.mark.parametrize("output_format", ["native", "original"])
def test_a_checkpoint_tells_which_model_holds_it(model, task, num_labels, output_format, grouped_config, tmp_path):
    path = save_checkpoint(model(grouped_config), str(tmp_path / "ckpt"), output_format)

    info = inspect_checkpoint(path)

    if output_format == "original" and task == "multiple_choice":
        # The original's RACE head has the names and [1, H] shape of a one-class (STS-B) GLUE head.
        task, num_labels = "classifier", 1
    assert (info.format, info.task, info.num_labels) == (output_format, task, num_labels)


# --- keras-hub ---------------------------------------------------------------------------------

@pytest.fixture
def keras_hub_config():
    """keras-hub needs num_hidden_layers to be a multiple of num_hidden_groups."""
    return AlbertConfig(vocab_size=4000, embedding_size=8, hidden_size=16, num_hidden_layers=4, num_hidden_groups=2,
                        inner_group_num=2, num_attention_heads=4, intermediate_size=24, max_position_embeddings=32)


@pytest.fixture
def keras_hub_preset(keras_hub_config, tmp_path):
    """A preset saved by keras-hub itself, with random weights and the sample SentencePiece model."""
    keras_hub = pytest.importorskip("keras_hub")
    backbone = keras_hub.models.AlbertBackbone(
        vocabulary_size=4000, num_layers=4, num_heads=4, embedding_dim=8, hidden_dim=16, intermediate_dim=24,
        num_groups=2, num_inner_repetitions=2, max_sequence_length=32)
    randomized(backbone)
    backbone.save_to_preset(str(tmp_path / "preset"))
    keras_hub.models.AlbertTokenizer(proto=SAMPLE_SPM).save_to_preset(str(tmp_path / "preset"))
    return backbone, str(tmp_path / "preset")


def keras_hub_outputs(backbone, batch):
    return backbone({"token_ids": batch["input_word_ids"], "segment_ids": batch["input_type_ids"],
                     "padding_mask": batch["input_mask"]})


def test_a_keras_hub_preset_brings_its_config_and_tokenizer(keras_hub_config, keras_hub_preset):
    info = inspect_checkpoint(keras_hub_preset[1])

    assert (info.format, info.task, info.config, os.path.basename(info.spm_model_file)) == (
        "keras_hub", "encoder", keras_hub_config, "vocabulary.spm")


def test_a_keras_hub_preset_computes_what_keras_hub_computes(keras_hub_config, keras_hub_preset, padded_batch):
    backbone, preset = keras_hub_preset
    encoder = AlbertEncoder(keras_hub_config)

    load_checkpoint(encoder, preset)

    ours, theirs = encoder(encoder_inputs(padded_batch)), keras_hub_outputs(backbone, padded_batch)
    # Tolerance: float32 noise of different op orders (measured ≤ 3e-7).
    for key in ("sequence_output", "pooled_output"):
        np.testing.assert_allclose(ours[key], theirs[key], atol=1e-5, err_msg=key)


def test_keras_hub_loads_our_preset_and_computes_what_we_compute(keras_hub_config, padded_batch, tmp_path):
    keras_hub = pytest.importorskip("keras_hub")
    encoder = randomized(AlbertEncoder(keras_hub_config))
    preset = save_checkpoint(encoder, str(tmp_path / "preset"), "keras_hub", spm_model_file=SAMPLE_SPM)

    backbone = keras_hub.models.AlbertBackbone.from_preset(preset)

    ours, theirs = encoder(encoder_inputs(padded_batch)), keras_hub_outputs(backbone, padded_batch)
    np.testing.assert_allclose(theirs["sequence_output"], ours["sequence_output"], atol=1e-5)


def test_a_config_keras_hub_cannot_hold_is_refused_by_name(grouped_config, tmp_path):
    pytest.importorskip("keras_hub")

    with pytest.raises(ValueError, match="num_hidden_layers=3 is not a multiple of num_hidden_groups=2"):
        save_checkpoint(AlbertEncoder(grouped_config), str(tmp_path / "preset"), "keras_hub")


def test_original_native_huggingface_and_keras_hub_round_trip_to_identical_tensors(keras_hub_config, tmp_path):
    pytest.importorskip("keras_hub")
    weights = numpy_albert.random_weights(keras_hub_config, with_heads=False)
    path = write_tf1_checkpoint(weights, str(tmp_path / "original" / "model.ckpt-1"))
    for output_format, target in (("native", "native/ckpt"), ("huggingface", "hf"), ("keras_hub", "preset"),
                                  ("original", "back/model.ckpt")):
        model = build_model(inspect_checkpoint(path), keras_hub_config)
        load_checkpoint(model, path)
        path = save_checkpoint(model, str(tmp_path / target), output_format)

    reader = tf.train.load_checkpoint(path)
    assert set(reader.get_variable_to_shape_map()) == set(weights)
    for name, value in weights.items():
        np.testing.assert_array_equal(reader.get_tensor(name), value, err_msg=name)


# --- TF1 Hub modules -----------------------------------------------------------------------------

@pytest.fixture
def hub_config(grouped_config):
    """The grouped config with the sample SentencePiece model's vocabulary."""
    return dataclasses.replace(grouped_config, vocab_size=4000)


@pytest.fixture
def hub_module(hub_config, tmp_path):
    """An untarred TF1 Hub module of the original release's layout, with the variables under "module/"."""
    grouped_config = hub_config
    folder = tmp_path / "albert_base_3"
    weights = numpy_albert.random_weights(grouped_config)
    (folder / "variables").mkdir(parents=True)
    write_tf1_checkpoint({f"module/{name}": value for name, value in weights.items()},
                         str(folder / "variables" / "variables"))
    (folder / "assets").mkdir()
    (folder / "assets" / "albert_config.json").write_text(grouped_config.to_json_string())
    shutil.copy(SAMPLE_SPM, folder / "assets" / "30k-clean.model")
    (folder / "tfhub_module.pb").write_bytes(b"")
    return str(folder), weights


def test_a_hub_module_is_a_checkpoint_with_its_config_and_tokenizer(hub_config, hub_module):
    info = inspect_checkpoint(hub_module[0])

    assert (info.format, info.task, info.config, os.path.basename(info.spm_model_file)) == (
        "hub_module", "pretraining", hub_config, "30k-clean.model")


def test_a_hub_module_loads_the_weights_under_its_variables(hub_config, hub_module, tmp_path):
    folder, weights = hub_module
    expected = AlbertPretrainer(hub_config)
    load_original_checkpoint(expected, write_tf1_checkpoint(weights, str(tmp_path / "tf1" / "model.ckpt-1")))
    pretrainer = AlbertPretrainer(hub_config)

    load_checkpoint(pretrainer, folder)

    assert_same_weights(expected, pretrainer)


def test_a_hub_handle_url_says_to_download_and_untar(grouped_config):
    with pytest.raises(ValueError, match="albert_tf never downloads.*untar it"):
        load_checkpoint(AlbertEncoder(grouped_config), "https://tfhub.dev/google/albert_base/3")


# --- the scripts ---------------------------------------------------------------------------------

def test_convert_writes_a_huggingface_folder_from_a_hub_module_without_other_flags(hub_config, hub_module, tmp_path):
    run_script("convert_checkpoint.py", f"--input_checkpoint={hub_module[0]}", "--output_format=huggingface",
               f"--output_checkpoint={tmp_path / 'hf'}")

    info = inspect_checkpoint(str(tmp_path / "hf"))
    assert (info.task, info.config, sorted(os.listdir(tmp_path / "hf"))) == (
        "pretraining", hub_config, ["config.json", "model.safetensors", "spiece.model", "tokenizer_config.json"])


def test_convert_carries_a_masked_lm_folder_and_names_what_it_lacks(grouped_config, pretraining_folder, tmp_path):
    from safetensors.numpy import load_file

    tensors = {name: value for name, value in load_file(os.path.join(pretraining_folder[0], "model.safetensors")).items()
               if not name.startswith(("albert.pooler.", "sop_classifier."))}
    folder = write_huggingface_folder(tmp_path / "mlm", grouped_config, tensors, "AlbertForMaskedLM")

    result = run_script("convert_checkpoint.py", f"--input_checkpoint={folder}", "--output_format=native",
                        f"--output_checkpoint={tmp_path / 'native' / 'ckpt'}")

    assert "written with random initialization: ['albert.pooler.weight', 'albert.pooler.bias'," in result.stderr


def test_a_config_flag_that_disagrees_with_the_checkpoints_is_a_usage_error(hub_config, hub_module, tmp_path):
    other = tmp_path / "other_config.json"
    other.write_text(dataclasses.replace(hub_config, hidden_act="relu").to_json_string())

    result = run_script("convert_checkpoint.py", f"--input_checkpoint={hub_module[0]}", f"--albert_config_file={other}",
                        f"--output_checkpoint={tmp_path / 'out'}", expect_failure=True)

    assert ("disagrees with the config that --input_checkpoint" in result.stderr, "Traceback" in result.stderr) == (
        True, False)


def test_fine_tuning_takes_the_originals_hub_module_flag_and_the_modules_config_and_tokenizer(hub_module, tmp_path):
    run_script("run_classifier.py", "--task_name=SST-2", "--data_dir=tfrecords/sample/glue/SST-2",
               f"--albert_hub_module_handle={hub_module[0]}", f"--output_dir={tmp_path / 'out'}", "--max_seq_length=16",
               "--do_train", "--train_step=1", "--save_checkpoints_steps=1", "--train_batch_size=4")

    recorded = (tmp_path / "out" / "flags.txt").read_text()
    assert f"--spm_model_file={hub_module[0]}/assets/30k-clean.model" in recorded.splitlines()


# The sample SentencePiece model's vocabulary; room for the exports' 48 tokens.
SERVING_CONFIG = AlbertConfig(vocab_size=4000, embedding_size=8, hidden_size=16, num_hidden_layers=2,
                              num_attention_heads=2, intermediate_size=32, max_position_embeddings=64)
SERVED_PAIRS = {"text_a": [b"The Cat sat on the MAT.", b"A dog ran home."],
                "text_b": [b"It was Happy.", b"Then it slept, quietly."]}


def test_one_command_exports_a_huggingface_classifier_for_tf_serving(tmp_path):
    model = randomized(AlbertClassifier(SERVING_CONFIG, 3))
    # Cased: the export must take its lowercasing from the folder for its ids to be the model's.
    folder = save_checkpoint(model, str(tmp_path / "hf"), "huggingface", spm_model_file=SAMPLE_SPM,
                             do_lower_case=False, label_names=("neg", "neutral", "pos"))

    run_script("export_saved_model.py", f"--init_checkpoint={folder}", "--task=classifier",
               f"--export_dir={tmp_path / 'export'}", "--max_seq_length=48")

    served = serve([(tmp_path / "export" / "1", "serving_default", SERVED_PAIRS)], tmp_path)[0]
    tokenizer = FullTokenizer(SAMPLE_SPM, do_lower_case=False)
    encoded = [encode_text(tokenizer, a.decode(), b.decode(), 48) for a, b in zip(*SERVED_PAIRS.values())]
    logits = model({key: np.array([getattr(e, key) for e in encoded], np.int32) for key in ENCODER_INPUTS})["logits"]
    assert list(served["label_names"][0]) == [b"neg", b"neutral", b"pos"]
    np.testing.assert_allclose(served["probabilities"], tf.nn.softmax(logits), atol=1e-5)


def test_one_command_exports_a_huggingface_squad_model_for_tf_serving(tmp_path):
    model = randomized(AlbertQuestionAnswerer(SERVING_CONFIG))
    folder = save_checkpoint(model, str(tmp_path / "hf"), "huggingface", spm_model_file=SAMPLE_SPM, do_lower_case=False)
    question, context = "Who Sat?", "The Cat sat on the MAT, and a dog ran home."

    run_script("export_saved_model.py", f"--init_checkpoint={folder}", "--task=squad",
               f"--export_dir={tmp_path / 'export'}", "--max_seq_length=48", "--max_answer_length=30")

    served = serve([(tmp_path / "export" / "1", "serving_default",
                     {"question": [question.encode()], "context": [context.encode()]})], tmp_path)[0]
    encoded = encode_text(FullTokenizer(SAMPLE_SPM, do_lower_case=False), question, context, 48)
    outputs = model({key: np.array([getattr(encoded, key)], np.int32) for key in ENCODER_INPUTS})
    start, end = np.asarray(outputs["start_logits"][0]), np.asarray(outputs["end_logits"][0])
    in_context = [i for i, (t, m) in enumerate(zip(encoded.input_type_ids, encoded.input_mask)) if t == 1 and m][:-1]
    best = max((start[i] + end[j], i, j) for i in in_context for j in in_context if 0 <= j - i < 30)
    np.testing.assert_allclose([served["score"][0], served["start_index"][0], served["end_index"][0]], best, atol=1e-5)
