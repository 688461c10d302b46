"""Every checkpoint format behind one path: what a path holds, loading it, writing a model in any format.

Formats, told apart by what the path holds:
    original      a TF1 checkpoint with the original names (`bert/...`), prefix or directory
    native        our `tf.train.Checkpoint(model=...)`, prefix or directory
    huggingface   a transformers folder: config.json + model.safetensors (+ spiece.model)
    keras_hub     a keras-hub AlbertBackbone preset: config.json + model.weights.h5 (+ vocabulary.spm)
    hub_module    an original TF1 Hub module, downloaded and untarred: variables/ + assets/
The folder formats carry the model's config and usually its SentencePiece model: `inspect_checkpoint`
returns them, so callers need no other file.
"""

import dataclasses
import os

import tensorflow as tf
from tensorflow.core.protobuf import trackable_object_graph_pb2

from albert_tf.checkpoint import huggingface, keras_hub
from albert_tf.checkpoint.assign import CheckpointMismatchError
from albert_tf.checkpoint.finite import check_finite
from albert_tf.checkpoint.native import load_native_checkpoint, save_native_checkpoint, saved_model_children
from albert_tf.checkpoint.original import (NATIVE_CHECKPOINT_KEY, load_original_checkpoint, resolve_checkpoint_path,
                                           save_original_checkpoint)
from albert_tf.config import AlbertConfig
from albert_tf.models import (AlbertClassifier, AlbertEncoder, AlbertMultipleChoice, AlbertPretrainer,
                              AlbertQuestionAnswerer)

FORMATS = ("original", "native", "huggingface", "keras_hub", "hub_module")
TASKS = ("encoder", "pretraining", "classifier", "squad", "squad_v2", "multiple_choice")

HUB_MODULE_VARIABLES = os.path.join("variables", "variables")
HUB_MODULE_CONFIG = os.path.join("assets", "albert_config.json")
HUB_MODULE_SPM = os.path.join("assets", "30k-clean.model")

# transformers class → our task.
HUGGINGFACE_TASKS = {
    "AlbertModel": "encoder", "AlbertForPreTraining": "pretraining", "AlbertForMaskedLM": "pretraining",
    "AlbertForSequenceClassification": "classifier", "AlbertForQuestionAnswering": "squad",
    "AlbertForMultipleChoice": "multiple_choice",
}
# The native checkpoint's head (a child of `model`) → our task.
NATIVE_HEAD_TASKS = (("masked_lm_head", "pretraining"), ("classifier", "classifier"), ("span_head", "squad"),
                     ("start_head", "squad_v2"), ("scorer", "multiple_choice"))
# Config fields that change what the model computes (dropout and initialization do not).
COMPUTATION_FIELDS = tuple(f.name for f in dataclasses.fields(AlbertConfig)
                           if f.name not in ("extra", "hidden_dropout_prob", "attention_probs_dropout_prob",
                                             "initializer_range"))


@dataclasses.dataclass(frozen=True)
class CheckpointInfo:
    """What a checkpoint path holds.

    format: one of `FORMATS`.
    task: which of our models holds all its weights (one of `TASKS`).
    config: the `AlbertConfig` the checkpoint carries, or None (original and native checkpoints).
    spm_model_file: the SentencePiece model it carries, or None.
    do_lower_case: the lowercasing it declares (transformers' tokenizer_config.json), or None.
    label_names: a classifier's class names, in id order, where the checkpoint names them.
    num_labels: a classifier's class count, where the checkpoint tells.
    """

    path: str
    format: str
    task: str = "encoder"
    config: AlbertConfig = None
    spm_model_file: str = None
    do_lower_case: bool = None
    label_names: tuple = ()
    num_labels: int = None


def checkpoint_format(path):
    """Which of `FORMATS` `path` is; a clear error when it is none of them."""
    if "://" in path and not path.startswith(("gs://", "s3://", "hdfs://", "ram://")) or path.startswith("tfhub.dev"):
        raise ValueError(
            f"{path} is a URL: albert_tf never downloads at run time. Download the module or model yourself "
            "(a TF Hub module: fetch <handle>?tf-hub-format=compressed and untar it), then pass the folder")
    if tf.io.gfile.isdir(path):
        if tf.io.gfile.exists(os.path.join(path, HUB_MODULE_VARIABLES + ".index")):
            return "hub_module"
        if keras_hub.is_keras_hub_preset(path):
            return "keras_hub"
        if huggingface.is_huggingface_folder(path):
            return "huggingface"
        if tf.io.gfile.exists(os.path.join(path, "config.json")):
            huggingface.read_config(path)  # a folder of another model type fails here, by name
            raise ValueError(f"{path} has a config.json but no weights (model.safetensors, or model.weights.h5 "
                             "for a keras-hub preset)")
    elif not tf.io.gfile.exists(path + ".index"):
        raise FileNotFoundError(
            f"no checkpoint at {path}: expected a checkpoint prefix (with {path}.index beside it), a directory "
            "of checkpoints, a Hugging Face or keras-hub folder, or an untarred TF1 Hub module")
    prefix = resolve_checkpoint_path(path)
    stored = tf.train.load_checkpoint(prefix).get_variable_to_shape_map()
    return "native" if NATIVE_CHECKPOINT_KEY in stored else "original"


def inspect_checkpoint(path):
    """A `CheckpointInfo` for `path` (no weights are read, only names, shapes and configs)."""
    kind = checkpoint_format(path)
    if kind == "huggingface":
        values = huggingface.read_config(path)
        architecture = huggingface.architecture_of(values, os.path.join(path, huggingface.CONFIG_FILE))
        task = HUGGINGFACE_TASKS[architecture]
        labels = huggingface.label_names(values) if task == "classifier" else ()
        spm = os.path.join(path, huggingface.SPM_FILE)
        return CheckpointInfo(
            path, kind, task, huggingface.albert_config_from_huggingface(
                values, os.path.join(path, huggingface.CONFIG_FILE)),
            spm if tf.io.gfile.exists(spm) else None, huggingface.do_lower_case(path), labels,
            len(labels) if labels else None)
    if kind == "keras_hub":
        return CheckpointInfo(path, kind, "encoder", keras_hub.albert_config_from_keras_hub(
            keras_hub.read_config(path), os.path.join(path, keras_hub.CONFIG_FILE)), keras_hub.spm_model_file(path))
    if kind == "hub_module":
        config_file, spm = os.path.join(path, HUB_MODULE_CONFIG), os.path.join(path, HUB_MODULE_SPM)
        if not tf.io.gfile.exists(config_file):
            raise FileNotFoundError(f"{path} looks like a TF1 Hub module but has no {HUB_MODULE_CONFIG}")
        task, num_labels = _original_task(os.path.join(path, HUB_MODULE_VARIABLES))
        return CheckpointInfo(path, kind, task, AlbertConfig.from_json_file(config_file),
                              spm if tf.io.gfile.exists(spm) else None, num_labels=num_labels)
    if kind == "native":
        task, num_labels = _native_task(resolve_checkpoint_path(path))
        return CheckpointInfo(path, kind, task, num_labels=num_labels)
    task, num_labels = _original_task(resolve_checkpoint_path(path))
    return CheckpointInfo(path, kind, task, num_labels=num_labels)


def load_checkpoint(model, checkpoint_path, *, allow_missing_heads=False, init_from_group0=False):
    """Loads any of `FORMATS` into `model` (an encoder, or a model with `.encoder` and heads).

    Heads the checkpoint lacks fail unless `allow_missing_heads` (they then keep their random
    initialization and are reported). A checkpoint that carries a config must agree with the
    model's in every field that changes the computation. `init_from_group0` (see
    `load_original_checkpoint`) needs a checkpoint with the original names. Weights that are not
    finite raise `NonFiniteWeightsError`.
    Returns the `LoadReport` (None for native checkpoints).
    """
    report = _load(model, checkpoint_path, allow_missing_heads, init_from_group0)
    check_finite(model.weights, f"checkpoint {checkpoint_path}")
    return report


def _load(model, checkpoint_path, allow_missing_heads, init_from_group0):
    info = inspect_checkpoint(checkpoint_path)
    if info.config is not None:
        check_config_matches(getattr(model, "encoder", model).config, info.config, checkpoint_path)
    if init_from_group0 and info.format not in ("original", "hub_module"):
        raise ValueError(f"init_from_group0 needs a checkpoint with the original TF1 names; {checkpoint_path} is "
                         f"{info.format}: convert it with run/convert_checkpoint.py --output_format=original first")
    if info.format == "huggingface":
        return huggingface.load_huggingface(model, checkpoint_path, allow_missing_heads=allow_missing_heads)
    if info.format == "keras_hub":
        return keras_hub.load_keras_hub_preset(model, checkpoint_path, allow_missing_heads=allow_missing_heads)
    if info.format == "native":
        return load_native_checkpoint(model, checkpoint_path, allow_missing_heads=allow_missing_heads)
    prefix = os.path.join(checkpoint_path, HUB_MODULE_VARIABLES) if info.format == "hub_module" else checkpoint_path
    return load_original_checkpoint(model, prefix, allow_missing_heads=allow_missing_heads,
                                    init_from_group0=init_from_group0)


def check_config_matches(model_config, checkpoint_config, checkpoint_path):
    differences = [f"{name}: model {getattr(model_config, name)!r}, checkpoint {getattr(checkpoint_config, name)!r}"
                   for name in COMPUTATION_FIELDS if getattr(model_config, name) != getattr(checkpoint_config, name)]
    if differences:
        raise CheckpointMismatchError(f"checkpoint {checkpoint_path} carries a config that differs from the "
                                      "model's:\n  " + "\n  ".join(differences))


def build_model(info, config=None, *, label_names=()):
    """Our model that holds every weight of the checkpoint `info` describes.

    `config` is needed where the checkpoint carries none. A classifier gets `label_names`' count
    of classes, else the checkpoint's.
    """
    config = config or info.config
    if config is None:
        raise ValueError(f"{info.path} ({info.format}) carries no config: pass the model's albert_config.json")
    if info.task == "pretraining":
        return AlbertPretrainer(config)
    if info.task == "classifier":
        return AlbertClassifier(config, len(label_names) or info.num_labels)
    if info.task in ("squad", "squad_v2"):
        return AlbertQuestionAnswerer(config, version_2_with_negative=info.task == "squad_v2")
    if info.task == "multiple_choice":
        return AlbertMultipleChoice(config)
    return AlbertEncoder(config)


def save_checkpoint(model, path, output_format, *, spm_model_file=None, do_lower_case=True, label_names=(),
                    overwrite=False):
    """Writes `model` in `output_format` (one of `FORMATS` except hub_module) at `path`; returns what
    was written (a checkpoint prefix, or a folder)."""
    if output_format == "original":
        return save_original_checkpoint(model, path)
    if output_format == "native":
        return save_native_checkpoint(model, path)
    if output_format == "huggingface":
        return huggingface.save_huggingface(model, path, spm_model_file=spm_model_file, do_lower_case=do_lower_case,
                                            label_names=label_names, overwrite=overwrite)
    if output_format == "keras_hub":
        return keras_hub.save_keras_hub_preset(model, path, spm_model_file=spm_model_file, overwrite=overwrite)
    raise ValueError(f"cannot write {output_format!r}; choose one of original, native, huggingface, keras_hub")


def _original_task(prefix):
    shapes = {name[len("module/"):] if name.startswith("module/") else name: shape
              for name, shape in tf.train.load_checkpoint(prefix).get_variable_to_shape_map().items()}
    if any(name.startswith("cls/predictions/") for name in shapes):
        return "pretraining", None
    if "cls/squad/output_weights" in shapes:
        return "squad", None
    if "start_logits/dense/kernel" in shapes:
        return "squad_v2", None
    if "output_weights" in shapes:  # GLUE's head; RACE's [1, H] head reads as a one-class (regression) head
        return "classifier", shapes["output_weights"][0]
    return "encoder", None


def _native_task(prefix):
    children = saved_model_children(prefix)
    task = next((task for head, task in NATIVE_HEAD_TASKS if head in children), "encoder")
    num_labels = _native_shape(prefix, ("model", "classifier", "bias"))[0] if task == "classifier" else None
    return task, num_labels


def _native_shape(prefix, path):
    """Shape of the variable at an object path (e.g. model → classifier → bias) of a native checkpoint."""
    reader = tf.train.load_checkpoint(prefix)
    graph = trackable_object_graph_pb2.TrackableObjectGraph()
    graph.ParseFromString(reader.get_tensor(NATIVE_CHECKPOINT_KEY))
    node = graph.nodes[0]
    for name in path:
        node = graph.nodes[next(child.node_id for child in node.children if child.local_name == name)]
    return reader.get_variable_to_shape_map()[node.attributes[0].checkpoint_key]
