"""The one table between Hugging Face `transformers` ALBERT weight names and our variables.

The companion of `names.py` (the original TF1 names). Read top to bottom it is the
architecture as `transformers` lays it out: embeddings, the E→H mapping, one layer per
(group, inner group), pooler, then each class's head. PyTorch's `nn.Linear.weight` is
[out, in], the transpose of a Keras kernel; embedding tables, LayerNorm weights and the
sentence-order head's [2, H] matrix are stored as we hold them.
"""

import operator

from albert_tf.checkpoint.assign import AS_IS, TRANSPOSED, Row

BASE_PREFIX = "albert."

# Relative to "albert.".
EMBEDDINGS = (
    ("embeddings.word_embeddings.weight", "embeddings.word_embeddings", AS_IS),
    ("embeddings.token_type_embeddings.weight", "embeddings.token_type_embeddings", AS_IS),
    ("embeddings.position_embeddings.weight", "embeddings.position_embeddings", AS_IS),
    ("embeddings.LayerNorm.weight", "embeddings.layer_norm.gamma", AS_IS),
    ("embeddings.LayerNorm.bias", "embeddings.layer_norm.beta", AS_IS),
)

# transformers always has this layer, even when E == H (where the original has none).
EMBEDDING_PROJECTION = (
    ("encoder.embedding_hidden_mapping_in.weight", "embedding_projection.kernel", TRANSPOSED),
    ("encoder.embedding_hidden_mapping_in.bias", "embedding_projection.bias", AS_IS),
)

# Relative to "albert.encoder.albert_layer_groups.{g}.albert_layers.{i}." and to the shared block.
SHARED_BLOCK = (
    ("attention.query.weight", "attention.query.kernel", TRANSPOSED),
    ("attention.query.bias", "attention.query.bias", AS_IS),
    ("attention.key.weight", "attention.key.kernel", TRANSPOSED),
    ("attention.key.bias", "attention.key.bias", AS_IS),
    ("attention.value.weight", "attention.value.kernel", TRANSPOSED),
    ("attention.value.bias", "attention.value.bias", AS_IS),
    ("attention.dense.weight", "attention.output_dense.kernel", TRANSPOSED),
    ("attention.dense.bias", "attention.output_dense.bias", AS_IS),
    ("attention.LayerNorm.weight", "attention_layer_norm.gamma", AS_IS),
    ("attention.LayerNorm.bias", "attention_layer_norm.beta", AS_IS),
    ("ffn.weight", "intermediate.kernel", TRANSPOSED),
    ("ffn.bias", "intermediate.bias", AS_IS),
    ("ffn_output.weight", "intermediate_output.kernel", TRANSPOSED),
    ("ffn_output.bias", "intermediate_output.bias", AS_IS),
    ("full_layer_layer_norm.weight", "output_layer_norm.gamma", AS_IS),
    ("full_layer_layer_norm.bias", "output_layer_norm.beta", AS_IS),
)

# Relative to "albert.". AlbertForMaskedLM and AlbertForQuestionAnswering have no pooler.
POOLER = (
    ("pooler.weight", "pooler.kernel", TRANSPOSED),
    ("pooler.bias", "pooler.bias", AS_IS),
)

# The decoder is tied to the word embeddings and its bias to `predictions.bias`, as in the
# original: transformers' state dict lists them under both names.
MASKED_LM_HEAD = (
    ("predictions.dense.weight", "masked_lm_head.transform.kernel", TRANSPOSED),
    ("predictions.dense.bias", "masked_lm_head.transform.bias", AS_IS),
    ("predictions.LayerNorm.weight", "masked_lm_head.layer_norm.gamma", AS_IS),
    ("predictions.LayerNorm.bias", "masked_lm_head.layer_norm.beta", AS_IS),
    ("predictions.bias", "masked_lm_head.output_bias", AS_IS),
)
TIED = {
    "predictions.decoder.weight": "albert.embeddings.word_embeddings.weight",
    "predictions.decoder.bias": "predictions.bias",
}

SENTENCE_ORDER_HEAD = (
    ("sop_classifier.classifier.weight", "sentence_order_head.output_weights", AS_IS),
    ("sop_classifier.classifier.bias", "sentence_order_head.output_bias", AS_IS),
)

CLASSIFIER_HEAD = (
    ("classifier.weight", "classifier.kernel", TRANSPOSED),
    ("classifier.bias", "classifier.bias", AS_IS),
)

SPAN_HEAD = (
    ("qa_outputs.weight", "span_head.dense.kernel", TRANSPOSED),
    ("qa_outputs.bias", "span_head.dense.bias", AS_IS),
)

MULTIPLE_CHOICE_HEAD = (
    ("classifier.weight", "scorer.kernel", TRANSPOSED),
    ("classifier.bias", "scorer.bias", AS_IS),
)

# transformers class → (whether its base model has the pooler, its heads).
ARCHITECTURES = {
    "AlbertModel": (True, ()),
    "AlbertForPreTraining": (True, MASKED_LM_HEAD + SENTENCE_ORDER_HEAD),
    "AlbertForMaskedLM": (False, MASKED_LM_HEAD),
    "AlbertForSequenceClassification": (True, CLASSIFIER_HEAD),
    "AlbertForQuestionAnswering": (False, SPAN_HEAD),
    "AlbertForMultipleChoice": (True, MULTIPLE_CHOICE_HEAD),
}


def huggingface_rows(model, architecture, *, with_projection=True):
    """The `Row`s of our `model` under the names of transformers' class `architecture`.

    Rows of the pooler and of the heads are `head` rows: classes without a pooler leave it
    missing. Every name carries the "albert." prefix (AlbertModel's own files have none:
    see `huggingface.py`).
    """
    encoder = getattr(model, "encoder", model)
    has_pooler, heads = ARCHITECTURES[architecture]
    rows = [Row(BASE_PREFIX + name, _attribute(encoder, path), layout) for name, path, layout in EMBEDDINGS]
    if with_projection:
        rows += [Row(BASE_PREFIX + name, _attribute(encoder, path), layout)
                 for name, path, layout in EMBEDDING_PROJECTION]
    config = encoder.config
    for group in config.used_groups:
        for inner_group in range(config.inner_group_num):
            prefix = f"{BASE_PREFIX}encoder.albert_layer_groups.{group}.albert_layers.{inner_group}."
            block = encoder.shared_block(group, inner_group)
            rows += [Row(prefix + name, _attribute(block, path), layout) for name, path, layout in SHARED_BLOCK]
    if has_pooler:
        rows += [Row(BASE_PREFIX + name, _attribute(encoder, path), layout, head=True)
                 for name, path, layout in POOLER]
    if model is not encoder:
        rows += [Row(name, _attribute(model, path), layout, head=True) for name, path, layout in heads]
    return rows


def _attribute(owner, path):
    return operator.attrgetter(path)(owner)
