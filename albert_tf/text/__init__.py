"""Tokenization."""

from albert_tf.text.tokenizer import FullTokenizer, preprocess_text
