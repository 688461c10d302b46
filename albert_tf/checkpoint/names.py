"""The one table between original TF1 variable names and our variables.

Each row pairs an original name with an attribute path on our model. Read top to bottom it
is the architecture: embeddings, projection, one shared block per (group, inner group),
pooler, then the pretraining heads and the fine-tuning scripts' heads. Every encoder kernel
has the original's shape, so loading the encoder is a rename and nothing else.
"""

import operator

from albert_tf.checkpoint.assign import AS_IS, TRANSPOSED, Row

ENCODER = (
    ("bert/embeddings/word_embeddings", "embeddings.word_embeddings"),
    ("bert/embeddings/token_type_embeddings", "embeddings.token_type_embeddings"),
    ("bert/embeddings/position_embeddings", "embeddings.position_embeddings"),
    ("bert/embeddings/LayerNorm/gamma", "embeddings.layer_norm.gamma"),
    ("bert/embeddings/LayerNorm/beta", "embeddings.layer_norm.beta"),
    ("bert/encoder/embedding_hidden_mapping_in/kernel", "embedding_projection.kernel"),
    ("bert/encoder/embedding_hidden_mapping_in/bias", "embedding_projection.bias"),
    ("bert/pooler/dense/kernel", "pooler.kernel"),
    ("bert/pooler/dense/bias", "pooler.bias"),
)

# Relative to "bert/encoder/transformer/group_{g}/inner_group_{i}/" and to the shared block.
# The original nests the FFN output dense inside ffn_1/intermediate/.
SHARED_BLOCK = (
    ("attention_1/self/query/kernel", "attention.query.kernel"),
    ("attention_1/self/query/bias", "attention.query.bias"),
    ("attention_1/self/key/kernel", "attention.key.kernel"),
    ("attention_1/self/key/bias", "attention.key.bias"),
    ("attention_1/self/value/kernel", "attention.value.kernel"),
    ("attention_1/self/value/bias", "attention.value.bias"),
    ("attention_1/output/dense/kernel", "attention.output_dense.kernel"),
    ("attention_1/output/dense/bias", "attention.output_dense.bias"),
    ("LayerNorm/gamma", "attention_layer_norm.gamma"),
    ("LayerNorm/beta", "attention_layer_norm.beta"),
    ("ffn_1/intermediate/dense/kernel", "intermediate.kernel"),
    ("ffn_1/intermediate/dense/bias", "intermediate.bias"),
    ("ffn_1/intermediate/output/dense/kernel", "intermediate_output.kernel"),
    ("ffn_1/intermediate/output/dense/bias", "intermediate_output.bias"),
    ("LayerNorm_1/gamma", "output_layer_norm.gamma"),
    ("LayerNorm_1/beta", "output_layer_norm.beta"),
)

PRETRAINING_HEADS = (
    ("cls/predictions/transform/dense/kernel", "masked_lm_head.transform.kernel"),
    ("cls/predictions/transform/dense/bias", "masked_lm_head.transform.bias"),
    ("cls/predictions/transform/LayerNorm/gamma", "masked_lm_head.layer_norm.gamma"),
    ("cls/predictions/transform/LayerNorm/beta", "masked_lm_head.layer_norm.beta"),
    ("cls/predictions/output_bias", "masked_lm_head.output_bias"),
    ("cls/seq_relationship/output_weights", "sentence_order_head.output_weights"),
    ("cls/seq_relationship/output_bias", "sentence_order_head.output_bias"),
)

# The fine-tuning scripts' heads. GLUE and RACE put theirs at the root scope, and keep
# `output_weights` as [classes, H], the transpose of our Dense kernel.
FINETUNING_HEADS = {
    "classifier": (
        ("output_weights", "classifier.kernel", TRANSPOSED),
        ("output_bias", "classifier.bias", AS_IS),
    ),
    "scorer": (
        ("output_weights", "scorer.kernel", TRANSPOSED),
        ("output_bias", "scorer.bias", AS_IS),
    ),
    "span_head": (
        ("cls/squad/output_weights", "span_head.dense.kernel", TRANSPOSED),
        ("cls/squad/output_bias", "span_head.dense.bias", AS_IS),
    ),
    "start_head": (
        ("start_logits/dense/kernel", "start_head.kernel", AS_IS),
        ("start_logits/dense/bias", "start_head.bias", AS_IS),
    ),
    "end_head": (
        ("end_logits/dense_0/kernel", "end_head.dense_0.kernel", AS_IS),
        ("end_logits/dense_0/bias", "end_head.dense_0.bias", AS_IS),
        ("end_logits/LayerNorm/gamma", "end_head.layer_norm.gamma", AS_IS),
        ("end_logits/LayerNorm/beta", "end_head.layer_norm.beta", AS_IS),
        ("end_logits/dense_1/kernel", "end_head.dense_1.kernel", AS_IS),
        ("end_logits/dense_1/bias", "end_head.dense_1.bias", AS_IS),
    ),
    "answerability_head": (
        ("answer_class/dense_0/kernel", "answerability_head.dense_0.kernel", AS_IS),
        ("answer_class/dense_0/bias", "answerability_head.dense_0.bias", AS_IS),
        ("answer_class/dense_1/kernel", "answerability_head.dense_1.kernel", AS_IS),
    ),
}

# Checkpoint entries that are training state, not model weights.
TRAINING_STATE_SUFFIXES = ("/adam_m", "/adam_v", "/lamb_m", "/lamb_v")
TRAINING_STATE_NAMES = ("global_step",)


def original_rows(model):
    """The `Row`s of an `AlbertEncoder`, or of a model with `.encoder` and heads, in original names.

    Heads are included for the heads the model has: MLM and SOP for an `AlbertPretrainer`, the
    fine-tuning scripts' heads for the task models.
    """
    encoder = getattr(model, "encoder", model)
    config = encoder.config
    rows = [Row(name, _attribute(encoder, path)) for name, path in ENCODER
            if encoder.embedding_projection is not None or "embedding_projection" not in path]
    for group in config.used_groups:
        for inner_group in range(config.inner_group_num):
            prefix = f"bert/encoder/transformer/group_{group}/inner_group_{inner_group}/"
            block = encoder.shared_block(group, inner_group)
            rows += [Row(prefix + name, _attribute(block, path)) for name, path in SHARED_BLOCK]
    if model is not encoder:
        rows += [Row(name, _attribute(model, path), head=True) for name, path in PRETRAINING_HEADS
                 if hasattr(model, path.split(".")[0])]
        for head in getattr(model, "HEADS", ()):
            rows += [Row(name, _attribute(model, path), layout, head=True)
                     for name, path, layout in FINETUNING_HEADS.get(head, ())]
    return rows


def original_variable_map(model):
    """{original TF1 name: our variable} for the model (see `original_rows`)."""
    return {row.name: row.variable for row in original_rows(model)}


def _attribute(owner, path):
    return operator.attrgetter(path)(owner)


def is_encoder_name(name):
    return name.startswith("bert/")


def is_training_state(name):
    return name in TRAINING_STATE_NAMES or name.endswith(TRAINING_STATE_SUFFIXES)
