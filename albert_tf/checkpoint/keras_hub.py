"""keras-hub presets of `AlbertBackbone` (`config.json`, `model.weights.h5`, the SentencePiece
asset), both ways. keras-hub itself reads and writes the files (an optional dependency:
`pip install -e ".[keras_hub]"`); names map through `keras_hub_names.py`.

A preset holds an encoder only. keras-hub's backbone always has the E→H projection, needs
`num_hidden_layers` to be a multiple of `num_hidden_groups`, one dropout rate, and the tanh GELU;
configs outside that are refused when writing.
"""

import json
import os

import numpy as np
import tensorflow as tf
from absl import logging

from albert_tf.checkpoint.assign import CheckpointMismatchError, Row, assign_rows
from albert_tf.checkpoint.keras_hub_names import EMBEDDING_PROJECTION, keras_hub_pairs
from albert_tf.config import AlbertConfig
from albert_tf.staging import written_aside

CONFIG_FILE = "config.json"
SPM_ASSET = os.path.join("assets", "tokenizer", "vocabulary.spm")
BACKBONE_CLASS = "keras_hub>AlbertBackbone"


def is_keras_hub_preset(path):
    config_file = os.path.join(path, CONFIG_FILE)
    if not (tf.io.gfile.isdir(path) and tf.io.gfile.exists(config_file)):
        return False
    with tf.io.gfile.GFile(config_file) as f:
        try:
            values = json.load(f)
        except json.JSONDecodeError:
            return False
    return isinstance(values, dict) and "class_name" in values and "registered_name" in values


def read_config(path):
    """The preset's AlbertBackbone arguments (its config.json's "config")."""
    config_file = os.path.join(path, CONFIG_FILE)
    with tf.io.gfile.GFile(config_file) as f:
        values = json.load(f)
    if values.get("registered_name") != BACKBONE_CLASS:
        raise ValueError(f"{config_file}: a keras-hub preset of {values.get('registered_name')}, not of "
                         f"{BACKBONE_CLASS}")
    return values["config"]


def albert_config_from_keras_hub(values, source=CONFIG_FILE):
    return AlbertConfig.from_dict({
        "vocab_size": values["vocabulary_size"], "embedding_size": values["embedding_dim"],
        "hidden_size": values["hidden_dim"], "num_hidden_layers": values["num_layers"],
        "num_hidden_groups": values.get("num_groups", 1), "num_attention_heads": values["num_heads"],
        "intermediate_size": values["intermediate_dim"], "inner_group_num": values.get("num_inner_repetitions", 1),
        "hidden_act": "gelu", "hidden_dropout_prob": values.get("dropout", 0.0),
        "attention_probs_dropout_prob": values.get("dropout", 0.0),
        "max_position_embeddings": values.get("max_sequence_length", 512),
        "type_vocab_size": values.get("num_segments", 2)}, source=source)


def spm_model_file(path):
    asset = os.path.join(path, SPM_ASSET)
    return asset if tf.io.gfile.exists(asset) else None


def load_keras_hub_preset(model, path, *, allow_missing_heads=False):
    """Loads a keras-hub AlbertBackbone preset into our model's encoder; heads stay as they are
    (allowed with `allow_missing_heads`). Returns a `LoadReport`."""
    keras_hub = _import_keras_hub()
    encoder = getattr(model, "encoder", model)
    backbone = keras_hub.models.AlbertBackbone.from_preset(path)
    with_projection = encoder.embedding_projection is not None
    pairs = keras_hub_pairs(backbone, encoder, with_projection=with_projection)
    if not with_projection:
        _check_identity_projection(backbone, path)
    rows = [row for _, row in pairs]
    heads = [Row(weight.path, weight, head=True) for head in getattr(model, "HEADS", ())
             for weight in getattr(model, head).weights]
    values = {row.name: theirs for theirs, row in pairs}
    return assign_rows(rows + heads, {name: tuple(value.shape) for name, value in values.items()},
                       lambda name: np.asarray(values[name]), source=path, is_encoder_name=lambda name: True,
                       allow_missing_heads=allow_missing_heads)


def save_keras_hub_preset(model, path, *, spm_model_file=None, overwrite=False):
    """Writes our model's encoder as a preset that `keras_hub.models.AlbertBackbone.from_preset`
    loads; with `spm_model_file`, the AlbertTokenizer too. Written aside, renamed when complete."""
    keras_hub = _import_keras_hub()
    if tf.io.gfile.exists(path) and tf.io.gfile.listdir(path) and not overwrite:
        raise FileExistsError(f"{path} exists and is not empty; pass --overwrite to replace it")
    encoder = getattr(model, "encoder", model)
    config = encoder.config
    _check_expressible(config, path)
    backbone = keras_hub.models.AlbertBackbone(
        vocabulary_size=config.vocab_size, num_layers=config.num_hidden_layers, num_heads=config.num_attention_heads,
        embedding_dim=config.embedding_size, hidden_dim=config.hidden_size, intermediate_dim=config.intermediate_size,
        num_groups=config.num_hidden_groups, num_inner_repetitions=config.inner_group_num,
        dropout=config.hidden_dropout_prob, max_sequence_length=config.max_position_embeddings,
        num_segments=config.type_vocab_size)
    with_projection = encoder.embedding_projection is not None
    for theirs, row in keras_hub_pairs(backbone, encoder, with_projection=with_projection):
        theirs.assign(row.to_stored(tuple(theirs.shape)))
    if not with_projection:
        projection = backbone.get_layer(EMBEDDING_PROJECTION[0][0])
        projection.kernel.assign(np.eye(config.hidden_size, dtype=np.float32))
        projection.bias.assign(np.zeros(config.hidden_size, np.float32))
    dropped = list(getattr(model, "HEADS", ()))
    if dropped:
        logging.warning("A keras-hub AlbertBackbone preset holds the encoder only: %s not written.", dropped)

    with written_aside(path) as staging:
        backbone.save_to_preset(staging)
        if spm_model_file:
            keras_hub.models.AlbertTokenizer(proto=spm_model_file).save_to_preset(staging)
    return path


def _check_expressible(config, path):
    problems = []
    if config.num_hidden_layers % config.num_hidden_groups:
        problems.append(f"num_hidden_layers={config.num_hidden_layers} is not a multiple of "
                        f"num_hidden_groups={config.num_hidden_groups}")
    elif [config.group_index(i) for i in range(config.num_hidden_layers)] != [
            i // (config.num_hidden_layers // config.num_hidden_groups) for i in range(config.num_hidden_layers)]:
        problems.append("the original's float formula assigns layers to groups differently from keras-hub")
    if config.hidden_act not in ("gelu", "gelu_new"):
        problems.append(f"hidden_act={config.hidden_act!r} (keras-hub's ALBERT has the tanh GELU only)")
    if config.hidden_dropout_prob != config.attention_probs_dropout_prob:
        problems.append(f"hidden_dropout_prob={config.hidden_dropout_prob} differs from "
                        f"attention_probs_dropout_prob={config.attention_probs_dropout_prob} (keras-hub has one "
                        "dropout rate)")
    if problems:
        raise ValueError(f"{path}: keras-hub's AlbertBackbone cannot hold this model: " + "; ".join(problems))


def _check_identity_projection(backbone, path):
    projection = backbone.get_layer(EMBEDDING_PROJECTION[0][0])
    kernel = np.asarray(projection.kernel)
    if not (np.array_equal(kernel, np.eye(*kernel.shape)) and not np.any(np.asarray(projection.bias))):
        raise CheckpointMismatchError(
            f"{path}: embedding_dim == hidden_dim, where the original ALBERT has no embedding projection, but "
            "the preset's embedding_projection is not the identity")


def _import_keras_hub():
    try:
        import keras_hub
    except ImportError:
        raise ImportError("keras-hub presets are read and written by keras-hub: pip install -e \".[keras_hub]\" "
                          "(or pip install 'keras-hub==0.32.*')") from None
    return keras_hub
