"""`AlbertConfig`: the model shape, read from the original `albert_config.json` format."""

import dataclasses
import difflib
import json
import math

import tensorflow as tf
from absl import logging

from albert_tf.layers.activations import ACTIVATION_NAMES


# What every released albert_config.json states; a file without one of them is not taken to
# mean the xxlarge default.
SHAPE_KEYS = ("vocab_size", "embedding_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
              "intermediate_size")
# Keys of the original release's configs that its model never read.
ORIGINAL_EXTRA_KEYS = ("net_structure_type", "gap_size", "num_memory_blocks", "layers_to_keep")
# Keys the model does not use but known configs carry: the original's, and the transformers
# config.json keys albert_tf.checkpoint.huggingface reads or writes.
ACCEPTED_EXTRA_KEYS = ORIGINAL_EXTRA_KEYS + (
    "model_type", "architectures", "layer_norm_eps", "classifier_dropout_prob", "position_embedding_type",
    "id2label", "label2id", "num_labels", "bos_token_id", "eos_token_id", "pad_token_id",
    "tie_word_embeddings", "problem_type", "transformers_version", "torch_dtype")


@dataclasses.dataclass(frozen=True)
class AlbertConfig:
    """The fields of the original `modeling.AlbertConfig`, with the same defaults.

    The defaults describe ALBERT-xxlarge, as in the original. `hidden_act="gelu"` means the
    tanh approximation of GELU, as the original computes it; `"gelu_new"` (the Hugging Face
    name for the same function) is accepted as an alias. Keys the model does not use
    (`net_structure_type`, `gap_size`, `layers_to_keep`, ...) are kept in `extra` so a config
    read and written again loses nothing.

    The defaults serve the constructor only: a config read from a file or dict must state the
    model's shape (`SHAPE_KEYS`), and a key that is a near miss of a known one is an error, since
    the default it leaves in place (xxlarge's) would silently train another model.
    """

    vocab_size: int
    embedding_size: int = 128
    hidden_size: int = 4096
    num_hidden_layers: int = 12
    num_hidden_groups: int = 1
    num_attention_heads: int = 64
    intermediate_size: int = 16384
    inner_group_num: int = 1
    down_scale_factor: int = 1
    hidden_act: str = "gelu"
    hidden_dropout_prob: float = 0.0
    attention_probs_dropout_prob: float = 0.0
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    initializer_range: float = 0.02
    extra: dict = dataclasses.field(default_factory=dict, compare=False)

    def __post_init__(self):
        for field in dataclasses.fields(self):
            if field.name != "extra":
                _check_type(field.name, getattr(self, field.name), field.type)
                if field.type in (float, "float"):
                    object.__setattr__(self, field.name, float(getattr(self, field.name)))
        for name in ("vocab_size", "embedding_size", "hidden_size", "num_hidden_layers",
                     "num_hidden_groups", "num_attention_heads", "intermediate_size",
                     "inner_group_num", "max_position_embeddings", "type_vocab_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"AlbertConfig.{name} must be >= 1, got {getattr(self, name)}")
        for name in ("hidden_dropout_prob", "attention_probs_dropout_prob"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"AlbertConfig.{name} must be in [0, 1), got {getattr(self, name)}")
        if self.initializer_range <= 0:
            raise ValueError(f"AlbertConfig.initializer_range must be > 0, got {self.initializer_range}")
        if self.hidden_size % self.num_attention_heads:
            raise ValueError(
                f"AlbertConfig.hidden_size={self.hidden_size} is not a multiple of "
                f"num_attention_heads={self.num_attention_heads}")
        if self.num_hidden_groups > self.num_hidden_layers:
            raise ValueError(
                f"AlbertConfig.num_hidden_groups={self.num_hidden_groups} exceeds "
                f"num_hidden_layers={self.num_hidden_layers}: a group would have no layer")
        if self.hidden_act not in ACTIVATION_NAMES:
            raise ValueError(
                f"AlbertConfig.hidden_act={self.hidden_act!r} is not one of {ACTIVATION_NAMES}")

    @property
    def attention_head_size(self):
        return self.hidden_size // self.num_attention_heads

    def group_index(self, layer_index):
        """The group whose weights layer `layer_index` uses.

        The float expression is the original's (modeling.py, `transformer_model`). It differs
        from integer division for some shapes (L = G = 22 maps layer 15 to group 14, so group 15
        is never used and has no variables); keeping it keeps the original variable names.
        """
        return int(layer_index / self.num_hidden_layers * self.num_hidden_groups)

    @property
    def used_groups(self):
        """Group indices that some layer maps to, in increasing order."""
        return sorted({self.group_index(i) for i in range(self.num_hidden_layers)})

    @classmethod
    def from_dict(cls, values, source="config"):
        """Builds a config from a dict in the original JSON layout; other keys go to `extra`.

        The `SHAPE_KEYS` must be present; a key no config has is an error when it is a near miss
        of a known key (`hiden_size`), else a warning.
        """
        if not isinstance(values, dict):
            raise ValueError(f"{source}: expected a JSON object, got {type(values).__name__}")
        known = {f.name for f in dataclasses.fields(cls)} - {"extra"}
        for key in sorted(set(values) - known - set(ACCEPTED_EXTRA_KEYS)):
            near = difflib.get_close_matches(key, sorted(known | set(ACCEPTED_EXTRA_KEYS)), n=1, cutoff=0.8)
            if near:
                raise ValueError(f"{source}: unknown field {key!r}; did you mean {near[0]}?")
            logging.warning("%s: unknown field %r is kept but not used by the model.", source, key)
        missing = [key for key in SHAPE_KEYS if key not in values]
        if missing:
            raise ValueError(f"{source}: required field(s) missing: {', '.join(missing)} (a config states the "
                             "model's shape; the defaults would make it xxlarge)")
        kwargs = {k: v for k, v in values.items() if k in known}
        extra = {k: v for k, v in values.items() if k not in known}
        try:
            return cls(**kwargs, extra=extra)
        except (TypeError, ValueError) as e:
            raise ValueError(f"{source}: {e}") from None

    @classmethod
    def from_json_file(cls, path):
        """Reads an original `albert_config.json` (local or any `tf.io.gfile` path, e.g. gs://)."""
        if not tf.io.gfile.exists(path):
            raise FileNotFoundError(f"ALBERT config file not found: {path}")
        with tf.io.gfile.GFile(path, "r") as f:
            text = f.read()
        try:
            values = json.loads(text)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}: not valid JSON ({e.msg} at line {e.lineno}, column {e.colno})") from None
        return cls.from_dict(values, source=path)

    def to_dict(self):
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "extra"}
        values.update(self.extra)
        return values

    def to_json_string(self):
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    def to_json_file(self, path):
        with tf.io.gfile.GFile(path, "w") as f:
            f.write(self.to_json_string())


def _check_type(name, value, expected):
    # JSON has one number type: accept 1 for a float field, never 1.5 or true for an int one.
    if expected is int or expected == "int":
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif expected is float or expected == "float":
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    else:
        ok = isinstance(value, str)
    if not ok:
        type_name = getattr(expected, "__name__", expected)
        raise ValueError(f"field '{name}' must be {type_name}, got {value!r} ({type(value).__name__})")
