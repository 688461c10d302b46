"""Hugging Face model folders: `config.json` + `model.safetensors` (+ `spiece.model`), both ways.

Read and written with the `safetensors` package's NumPy API: no PyTorch and no `transformers`
at run time. A `pytorch_model.bin` is a pickle, which can run code when loaded, so it is
refused, never unpickled. Names map through `huggingface_names.py`.

Two places where transformers' ALBERT is not the original's, handled here:
- It always has the E→H `embedding_hidden_mapping_in` layer; the original has none when
  E == H. Such a folder loads when that layer is the identity, and is written as the identity.
- It assigns layers to groups by `int(i / (L / G))`, the original by `int(i / L * G)`. They
  differ for a few shapes; those are refused rather than computed differently.
"""

import json
import os
import shutil

import numpy as np
import tensorflow as tf

from albert_tf.checkpoint.assign import CheckpointMismatchError, assign_rows
from albert_tf.checkpoint.huggingface_names import (ARCHITECTURES, BASE_PREFIX, EMBEDDING_PROJECTION, TIED,
                                                    huggingface_rows)
from albert_tf.config import ORIGINAL_EXTRA_KEYS, AlbertConfig
from albert_tf.models import (AlbertClassifier, AlbertEncoder, AlbertMultipleChoice, AlbertPretrainer,
                              AlbertQuestionAnswerer)
from albert_tf.staging import written_aside

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
WEIGHTS_INDEX_FILE = "model.safetensors.index.json"
SPM_FILE = "spiece.model"
TOKENIZER_CONFIG_FILE = "tokenizer_config.json"

# transformers' AlbertConfig defaults: its config.json leaves out values equal to them.
DEFAULTS = {
    "vocab_size": 30000, "embedding_size": 128, "hidden_size": 4096, "num_hidden_layers": 12,
    "num_hidden_groups": 1, "num_attention_heads": 64, "intermediate_size": 16384, "inner_group_num": 1,
    "hidden_act": "gelu_new", "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0,
    "max_position_embeddings": 512, "type_vocab_size": 2, "initializer_range": 0.02, "layer_norm_eps": 1e-12,
    "classifier_dropout_prob": 0.1,
}
# transformers' "gelu" is the exact (erf) GELU; its "gelu_new" is the original's tanh form.
ACTIVATIONS_FROM_HF = {"gelu_new": "gelu", "gelu_pytorch_tanh": "gelu", "gelu": "gelu_exact", "relu": "relu",
                       "tanh": "tanh", "linear": "linear"}
ACTIVATIONS_TO_HF = {"gelu": "gelu_new", "gelu_new": "gelu_new", "gelu_exact": "gelu", "relu": "relu",
                     "tanh": "tanh", "linear": "linear"}
# Weights transformers registers as buffers: older folders saved them.
BUFFERS = ("albert.embeddings.position_ids", "albert.embeddings.token_type_ids")


def is_huggingface_folder(path):
    return tf.io.gfile.isdir(path) and tf.io.gfile.exists(os.path.join(path, CONFIG_FILE)) and any(
        tf.io.gfile.exists(os.path.join(path, name))
        for name in (WEIGHTS_FILE, WEIGHTS_INDEX_FILE, "pytorch_model.bin", "pytorch_model.bin.index.json",
                     "tf_model.h5"))


def read_config(path):
    """The folder's `config.json` as a dict (checked to be ALBERT's)."""
    config_file = os.path.join(path, CONFIG_FILE)
    with tf.io.gfile.GFile(config_file) as f:
        try:
            values = json.load(f)
        except json.JSONDecodeError as e:
            raise ValueError(f"{config_file}: not valid JSON ({e.msg} at line {e.lineno})") from None
    if values.get("model_type", "albert") != "albert":
        raise ValueError(f"{config_file}: model_type is {values['model_type']!r}, not 'albert'")
    return values


def albert_config_from_huggingface(values, source=CONFIG_FILE):
    """An `AlbertConfig` from a transformers `config.json` dict (missing keys: transformers' defaults)."""
    values = {**DEFAULTS, **values}
    if values["layer_norm_eps"] != 1e-12:
        raise ValueError(f"{source}: layer_norm_eps={values['layer_norm_eps']} is not supported (ALBERT's "
                         "LayerNorms use 1e-12)")
    if values.get("position_embedding_type", "absolute") != "absolute":
        raise ValueError(f"{source}: position_embedding_type={values['position_embedding_type']!r} is not "
                         "supported (ALBERT's positions are absolute)")
    if values["hidden_act"] not in ACTIVATIONS_FROM_HF:
        raise ValueError(f"{source}: hidden_act={values['hidden_act']!r} is not one of "
                         f"{sorted(ACTIVATIONS_FROM_HF)}")
    fields = {name: values[name] for name in DEFAULTS if name in AlbertConfig.__dataclass_fields__}
    fields["hidden_act"] = ACTIVATIONS_FROM_HF[values["hidden_act"]]
    if "down_scale_factor" in values:
        fields["down_scale_factor"] = values["down_scale_factor"]
    fields.update({key: values[key] for key in ORIGINAL_EXTRA_KEYS if key in values})
    return AlbertConfig.from_dict(fields, source=source)


def huggingface_config(config, architecture, label_names=(), classifier_dropout=0.1):
    """A transformers `config.json` dict for our `config`, naming `architecture`."""
    values = {key: value for key, value in config.to_dict().items() if key in DEFAULTS or key in ORIGINAL_EXTRA_KEYS
              or key == "down_scale_factor"}
    values.update(
        model_type="albert", architectures=[architecture], hidden_act=ACTIVATIONS_TO_HF[config.hidden_act],
        layer_norm_eps=1e-12, classifier_dropout_prob=classifier_dropout, pad_token_id=0, bos_token_id=2,
        eos_token_id=3, tie_word_embeddings=True)
    if label_names:
        values["id2label"] = {str(i): name for i, name in enumerate(label_names)}
        values["label2id"] = {name: i for i, name in enumerate(label_names)}
        if len(label_names) == 1:
            values["problem_type"] = "regression"
    return values


def label_names(values):
    """Class names in id order, from `id2label` (transformers' default names when absent)."""
    id2label = values.get("id2label")
    if id2label:
        return tuple(id2label[key] for key in sorted(id2label, key=int))
    return tuple(f"LABEL_{i}" for i in range(values.get("num_labels", 2)))


def do_lower_case(path):
    """`do_lower_case` of the folder's tokenizer_config.json, or None when it has none."""
    tokenizer_config = os.path.join(path, TOKENIZER_CONFIG_FILE)
    if not tf.io.gfile.exists(tokenizer_config):
        return None
    with tf.io.gfile.GFile(tokenizer_config) as f:
        return bool(json.load(f).get("do_lower_case", True))


def architecture_of(values, source=CONFIG_FILE):
    architectures = values.get("architectures") or ["AlbertModel"]
    if architectures[0] not in ARCHITECTURES:
        raise ValueError(f"{source}: {architectures[0]} is not supported; albert_tf reads "
                         f"{', '.join(ARCHITECTURES)}")
    return architectures[0]


def architecture_for(model):
    """The transformers class that holds what our `model` holds."""
    if isinstance(model, AlbertQuestionAnswerer):
        if model.version_2_with_negative:
            raise ValueError("transformers has no class for the SQuAD 2.0 model (its XLNet-style answerability "
                             "head); only SQuAD 1.1 span models convert to Hugging Face")
        return "AlbertForQuestionAnswering"
    for model_class, architecture in ((AlbertPretrainer, "AlbertForPreTraining"),
                                      (AlbertClassifier, "AlbertForSequenceClassification"),
                                      (AlbertMultipleChoice, "AlbertForMultipleChoice"),
                                      (AlbertEncoder, "AlbertModel")):
        if isinstance(model, model_class):
            return architecture
    raise ValueError(f"{type(model).__name__} has no Hugging Face counterpart")


def load_huggingface(model, path, *, allow_missing_heads=False):
    """Loads a Hugging Face ALBERT folder into our `model`; see `assign_rows` for the checks.

    A folder of another class fits where the weights do: AlbertForMaskedLM into an
    `AlbertPretrainer` leaves the pooler and the sentence-order head missing (allowed with
    `allow_missing_heads`), any class fits an `AlbertEncoder`. Returns a `LoadReport`.
    """
    encoder = getattr(model, "encoder", model)
    _check_group_mapping(encoder.config, path)
    tensors = _SafetensorsReader(path)
    stored = dict(tensors.shapes)
    _check_tied(tensors, stored, path)
    with_projection = encoder.embedding_projection is not None
    if not with_projection:
        _check_identity_projection(tensors, stored, path)
    rows = huggingface_rows(model, architecture_for(model), with_projection=with_projection)
    return assign_rows(rows, stored, tensors.read, source=path, allow_missing_heads=allow_missing_heads,
                       is_encoder_name=lambda name: name.startswith(BASE_PREFIX) and ".pooler." not in f".{name}")


def save_huggingface(model, path, *, spm_model_file=None, do_lower_case=True, label_names=(),
                     classifier_dropout=None, overwrite=False):
    """Writes `model` as a folder that `transformers` loads with no missing and no unexpected keys.

    `config.json` names the transformers class of our model (`architecture_for`), with
    `id2label` for a classifier; `spiece.model` and `tokenizer_config.json` are written when
    `spm_model_file` is given. The folder is written aside and renamed into place when complete.
    """
    from safetensors.numpy import save_file

    if tf.io.gfile.exists(path) and tf.io.gfile.listdir(path) and not overwrite:
        raise FileExistsError(f"{path} exists and is not empty; pass --overwrite to replace it")
    architecture = architecture_for(model)
    encoder = getattr(model, "encoder", model)
    _check_group_mapping(encoder.config, path)
    if isinstance(model, AlbertClassifier):
        label_names = tuple(label_names) or tuple(f"LABEL_{i}" for i in range(model.num_labels))
        if len(label_names) != model.num_labels:
            raise ValueError(f"{len(label_names)} label names for a classifier of {model.num_labels} classes")
        classifier_dropout = model.classifier_dropout if classifier_dropout is None else classifier_dropout
    tensors = {row.name: row.to_stored() for row in
               huggingface_rows(model, architecture, with_projection=encoder.embedding_projection is not None)}
    if encoder.embedding_projection is None:
        width = encoder.config.hidden_size
        tensors[BASE_PREFIX + EMBEDDING_PROJECTION[0][0]] = np.eye(width, dtype=np.float32)
        tensors[BASE_PREFIX + EMBEDDING_PROJECTION[1][0]] = np.zeros(width, np.float32)
    if isinstance(model, AlbertPretrainer):
        tensors.update({name: tensors[target] for name, target in TIED.items()})
    if architecture == "AlbertModel":  # transformers saves a bare AlbertModel without the prefix
        tensors = {name[len(BASE_PREFIX):]: value for name, value in tensors.items()}

    with written_aside(path) as staging:
        os.makedirs(staging)
        save_file({name: np.ascontiguousarray(value) for name, value in tensors.items()},
                  os.path.join(staging, WEIGHTS_FILE), metadata={"format": "pt"})
        values = huggingface_config(encoder.config, architecture, label_names if isinstance(model, AlbertClassifier)
                                    else (), 0.1 if classifier_dropout is None else classifier_dropout)
        _write_json(os.path.join(staging, CONFIG_FILE), values)
        if spm_model_file:
            shutil.copyfile(spm_model_file, os.path.join(staging, SPM_FILE))
            _write_json(os.path.join(staging, TOKENIZER_CONFIG_FILE), _tokenizer_config(encoder.config, do_lower_case))
    return path


def _tokenizer_config(config, lower_case):
    return {"tokenizer_class": "AlbertTokenizer", "do_lower_case": lower_case, "remove_space": True,
            "keep_accents": False, "bos_token": "[CLS]", "eos_token": "[SEP]", "unk_token": "<unk>",
            "sep_token": "[SEP]", "pad_token": "<pad>", "cls_token": "[CLS]", "mask_token": "[MASK]",
            "model_max_length": config.max_position_embeddings}


def _write_json(path, values):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(values, f, indent=2, sort_keys=True)
        f.write("\n")


def _check_group_mapping(config, path):
    ours = [config.group_index(i) for i in range(config.num_hidden_layers)]
    theirs = [int(i / (config.num_hidden_layers / config.num_hidden_groups)) for i in range(config.num_hidden_layers)]
    if ours != theirs or config.used_groups != list(range(config.num_hidden_groups)):
        raise ValueError(
            f"{path}: with num_hidden_layers={config.num_hidden_layers} and num_hidden_groups="
            f"{config.num_hidden_groups}, transformers assigns layers to groups as {theirs} and the original as "
            f"{ours}; such a model cannot be carried between them")


def _check_tied(tensors, stored, path):
    for name, target in TIED.items():
        if name in stored:
            if target in stored and not np.array_equal(tensors.read(name), tensors.read(target)):
                raise CheckpointMismatchError(
                    f"{path}: {name} differs from {target}; ALBERT ties them (untied decoders are not supported)")
            del stored[name]


def _check_identity_projection(tensors, stored, path):
    """With E == H our model has no projection: the folder's must do nothing."""
    kernel, bias = (BASE_PREFIX + name for name, _, _ in EMBEDDING_PROJECTION)
    if kernel in stored:
        weight = tensors.read(kernel)
        if not (np.array_equal(weight, np.eye(*weight.shape)) and not np.any(tensors.read(bias))):
            raise CheckpointMismatchError(
                f"{path}: embedding_size == hidden_size, where the original ALBERT has no embedding projection, "
                "but the folder's encoder.embedding_hidden_mapping_in is not the identity")
        del stored[kernel], stored[bias]


class _SafetensorsReader:
    """{name: shape} of a folder's safetensors file(s) (one, or shards with an index) and their arrays.

    Names get the "albert." prefix where the file has none (a bare AlbertModel's file).
    """

    def __init__(self, path):
        from safetensors import safe_open

        self.files = _weight_files(path)
        self.shapes, self.dtypes, self.location = {}, {}, {}
        for file in self.files:
            with safe_open(file, framework="np") as f:
                for key in f.keys():
                    sliced = f.get_slice(key)
                    self.shapes[key], self.dtypes[key] = tuple(sliced.get_shape()), sliced.get_dtype()
                    self.location[key] = file
        if not any(key.startswith(BASE_PREFIX) for key in self.shapes):
            self.location = {self._prefixed(key): file for key, file in self.location.items()}
            self.shapes = {self._prefixed(key): shape for key, shape in self.shapes.items()}
            self.dtypes = {self._prefixed(key): dtype for key, dtype in self.dtypes.items()}
            self.unprefixed = True
        else:
            self.unprefixed = False
        for buffer in BUFFERS:
            self.shapes.pop(buffer, None)

    @staticmethod
    def _prefixed(key):
        head = key.split(".", 1)[0]
        return BASE_PREFIX + key if head in ("embeddings", "encoder", "pooler") else key

    def read(self, name):
        from safetensors import safe_open

        key = name[len(BASE_PREFIX):] if self.unprefixed and name.startswith(BASE_PREFIX) else name
        file = self.location[name]
        if self.dtypes[name] == "BF16":  # NumPy has no bfloat16: widen the raw bits
            return _read_bfloat16(file, key)
        with safe_open(file, framework="np") as f:
            return f.get_tensor(key).astype(np.float32)


def _weight_files(path):
    single, index = os.path.join(path, WEIGHTS_FILE), os.path.join(path, WEIGHTS_INDEX_FILE)
    if tf.io.gfile.exists(single):
        return [single]
    if tf.io.gfile.exists(index):
        with tf.io.gfile.GFile(index) as f:
            shards = sorted(set(json.load(f)["weight_map"].values()))
        return [os.path.join(path, shard) for shard in shards]
    if any(tf.io.gfile.exists(os.path.join(path, name)) for name in ("pytorch_model.bin", "pytorch_model.bin.index.json")):
        raise ValueError(
            f"{path} holds pytorch_model.bin, a pickle, which albert_tf never loads (unpickling can run code). "
            "Convert it to model.safetensors where PyTorch is installed, e.g. "
            "python -c \"from transformers import AutoModel; AutoModel.from_pretrained('DIR')"
            ".save_pretrained('DIR_safetensors')\" (transformers writes safetensors by default)")
    raise ValueError(f"{path} has no {WEIGHTS_FILE} (or {WEIGHTS_INDEX_FILE} with its shards)")


def _read_bfloat16(file, key):
    with open(file, "rb") as f:
        header_size = int.from_bytes(f.read(8), "little")
        entry = json.loads(f.read(header_size))[key]
        begin, end = entry["data_offsets"]
        f.seek(8 + header_size + begin)
        bits = np.frombuffer(f.read(end - begin), dtype="<u2")
    return (bits.astype(np.uint32) << 16).view(np.float32).reshape(entry["shape"])
