"""Keras layers of ALBERT, each usable and serializable on its own."""

from albert_tf.layers.attention import SelfAttention
from albert_tf.layers.embedding import AlbertEmbedding
from albert_tf.layers.masked_lm_head import MaskedLMHead
from albert_tf.layers.sentence_order_head import SentenceOrderHead
from albert_tf.layers.span_heads import AnswerabilityHead, ConditionalEndHead, SpanLogitsHead
from albert_tf.layers.transformer_block import SharedTransformerBlock
