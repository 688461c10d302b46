"""Tokenization.

The names below are imported on first use (PEP 562): `albert_tf.text.tokenizer` needs no
TensorFlow (the data tool's worker processes use it), `InGraphTokenizer` does.
"""

import importlib

_EXPORTS = {
    "albert_tf.text.tokenizer": ("FullTokenizer", "preprocess_text"),
    "albert_tf.text.in_graph_tokenizer": ("InGraphTokenizer",),
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = sorted(_MODULE_OF)


def __getattr__(name):
    if name not in _MODULE_OF:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_MODULE_OF[name]), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
