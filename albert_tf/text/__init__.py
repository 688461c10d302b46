"""Tokenization."""

from albert_tf.text.tokenizer import FullTokenizer, preprocess_text
from albert_tf.text.in_graph_tokenizer import InGraphTokenizer
