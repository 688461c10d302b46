"""The one table between keras-hub's `AlbertBackbone` and our `AlbertEncoder`.

keras-hub names layers, not variables: each row pairs a keras-hub layer and weight with our
variable. Its attention projections are `EinsumDense` kernels of shape [H, heads, head_size]
(output: [heads, head_size, H]); ours are the original's [H, H] matrices holding the same
values in the same order, so those rows are reshapes. Read top to bottom it is the
architecture: embeddings, projection, one `TransformerEncoder` per (group, inner group), pooler.
"""

import operator

from albert_tf.checkpoint.assign import AS_IS, RESHAPED, Row

EMBEDDINGS = (
    ("token_embedding", "embeddings", "embeddings.word_embeddings"),
    ("segment_embedding", "embeddings", "embeddings.token_type_embeddings"),
    ("position_embedding", "position_embeddings", "embeddings.position_embeddings"),
    ("embeddings_layer_norm", "gamma", "embeddings.layer_norm.gamma"),
    ("embeddings_layer_norm", "beta", "embeddings.layer_norm.beta"),
)

# keras-hub always has this layer, even when E == H (where the original has none).
EMBEDDING_PROJECTION = (
    ("embedding_projection", "kernel", "embedding_projection.kernel"),
    ("embedding_projection", "bias", "embedding_projection.bias"),
)

# Relative to the layer "group_{g}_inner_layer_{i}" and to our shared block.
SHARED_BLOCK = (
    ("_self_attention_layer._query_dense", "kernel", "attention.query.kernel"),
    ("_self_attention_layer._query_dense", "bias", "attention.query.bias"),
    ("_self_attention_layer._key_dense", "kernel", "attention.key.kernel"),
    ("_self_attention_layer._key_dense", "bias", "attention.key.bias"),
    ("_self_attention_layer._value_dense", "kernel", "attention.value.kernel"),
    ("_self_attention_layer._value_dense", "bias", "attention.value.bias"),
    ("_self_attention_layer._output_dense", "kernel", "attention.output_dense.kernel"),
    ("_self_attention_layer._output_dense", "bias", "attention.output_dense.bias"),
    ("_self_attention_layer_norm", "gamma", "attention_layer_norm.gamma"),
    ("_self_attention_layer_norm", "beta", "attention_layer_norm.beta"),
    ("_feedforward_intermediate_dense", "kernel", "intermediate.kernel"),
    ("_feedforward_intermediate_dense", "bias", "intermediate.bias"),
    ("_feedforward_output_dense", "kernel", "intermediate_output.kernel"),
    ("_feedforward_output_dense", "bias", "intermediate_output.bias"),
    ("_feedforward_layer_norm", "gamma", "output_layer_norm.gamma"),
    ("_feedforward_layer_norm", "beta", "output_layer_norm.beta"),
)

POOLER = (
    ("pooled_dense", "kernel", "pooler.kernel"),
    ("pooled_dense", "bias", "pooler.bias"),
)


def keras_hub_pairs(backbone, encoder, *, with_projection=True):
    """[(keras-hub variable, our `Row`)], the Row named by the keras-hub weight's path."""

    def pair(layer, weight, path, owner):
        theirs = getattr(layer, weight)
        ours = operator.attrgetter(path)(owner)
        layout = AS_IS if tuple(theirs.shape) == tuple(ours.shape) else RESHAPED
        return theirs, Row(theirs.path, ours, layout)

    pairs = [pair(backbone.get_layer(layer), weight, path, encoder) for layer, weight, path in EMBEDDINGS]
    if with_projection:
        pairs += [pair(backbone.get_layer(layer), weight, path, encoder)
                  for layer, weight, path in EMBEDDING_PROJECTION]
    config = encoder.config
    for group in config.used_groups:
        for inner_group in range(config.inner_group_num):
            layer = backbone.get_layer(f"group_{group}_inner_layer_{inner_group}")
            block = encoder.shared_block(group, inner_group)
            pairs += [pair(operator.attrgetter(sublayer)(layer), weight, path, block)
                      for sublayer, weight, path in SHARED_BLOCK]
    pairs += [pair(backbone.get_layer(layer), weight, path, encoder) for layer, weight, path in POOLER]
    return pairs
