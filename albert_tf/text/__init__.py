"""Tokenization.

The names below are imported on first use (PEP 562): `albert_tf.text.tokenizer` needs no
TensorFlow (the data tool's worker processes use it), `InGraphTokenizer` does.
"""

from albert_tf.lazy_exports import lazy_exports

_EXPORTS = {
    "albert_tf.text.tokenizer": ("FullTokenizer", "preprocess_text"),
    "albert_tf.text.in_graph_tokenizer": ("InGraphTokenizer",),
}
__all__, __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
