"""An independent NumPy re-derivation of the original ALBERT equations, for parity tests.

It reads weights by their original TF1 names and shares no code with `albert_tf`'s layers.
Everything is computed in float64.
"""

import numpy as np


def original_shapes(config, with_heads=True):
    """{original name: shape} for a config, written out from the original variable list."""
    E, H, I, V = config.embedding_size, config.hidden_size, config.intermediate_size, config.vocab_size
    shapes = {
        "bert/embeddings/word_embeddings": (V, E),
        "bert/embeddings/token_type_embeddings": (config.type_vocab_size, E),
        "bert/embeddings/position_embeddings": (config.max_position_embeddings, E),
        "bert/embeddings/LayerNorm/gamma": (E,),
        "bert/embeddings/LayerNorm/beta": (E,),
        "bert/pooler/dense/kernel": (H, H),
        "bert/pooler/dense/bias": (H,),
    }
    if E != H:
        shapes["bert/encoder/embedding_hidden_mapping_in/kernel"] = (E, H)
        shapes["bert/encoder/embedding_hidden_mapping_in/bias"] = (H,)
    groups = sorted({int(l / config.num_hidden_layers * config.num_hidden_groups)
                     for l in range(config.num_hidden_layers)})
    for g in groups:
        for i in range(config.inner_group_num):
            p = f"bert/encoder/transformer/group_{g}/inner_group_{i}/"
            for part in ("self/query", "self/key", "self/value", "output/dense"):
                shapes[p + f"attention_1/{part}/kernel"] = (H, H)
                shapes[p + f"attention_1/{part}/bias"] = (H,)
            for ln in ("LayerNorm", "LayerNorm_1"):
                shapes[p + f"{ln}/gamma"] = (H,)
                shapes[p + f"{ln}/beta"] = (H,)
            shapes[p + "ffn_1/intermediate/dense/kernel"] = (H, I)
            shapes[p + "ffn_1/intermediate/dense/bias"] = (I,)
            shapes[p + "ffn_1/intermediate/output/dense/kernel"] = (I, H)
            shapes[p + "ffn_1/intermediate/output/dense/bias"] = (H,)
    if with_heads:
        shapes.update({
            "cls/predictions/transform/dense/kernel": (H, E),
            "cls/predictions/transform/dense/bias": (E,),
            "cls/predictions/transform/LayerNorm/gamma": (E,),
            "cls/predictions/transform/LayerNorm/beta": (E,),
            "cls/predictions/output_bias": (V,),
            "cls/seq_relationship/output_weights": (2, H),
            "cls/seq_relationship/output_bias": (2,),
        })
    return shapes


def random_weights(config, seed=0, with_heads=True):
    """Random float32 weights; LayerNorm gammas and biases are non-trivial so swaps show."""
    rng = np.random.default_rng(seed)
    weights = {}
    for name, shape in original_shapes(config, with_heads).items():
        if name.endswith("gamma"):
            value = 1.0 + 0.2 * rng.standard_normal(shape)
        elif name.endswith(("beta", "bias")):
            value = 0.1 * rng.standard_normal(shape)
        else:
            value = 0.3 * rng.standard_normal(shape)
        weights[name] = value.astype(np.float32)
    return weights


def gelu(x):
    return 0.5 * x * (1.0 + np.tanh(np.sqrt(2.0 / np.pi) * (x + 0.044715 * x ** 3)))


def layer_norm(x, gamma, beta):
    mean = x.mean(-1, keepdims=True)
    variance = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(variance + 1e-12) * gamma + beta


def softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _block(w, p, x, bias, num_heads):
    B, T, H = x.shape
    D = H // num_heads

    def dense(inp, name):
        return inp @ w[p + name + "/kernel"] + w[p + name + "/bias"]

    def heads(t):
        return t.reshape(B, T, num_heads, D).transpose(0, 2, 1, 3)

    q, k, v = (heads(dense(x, f"attention_1/self/{n}")) for n in ("query", "key", "value"))
    probs = softmax(q @ k.transpose(0, 1, 3, 2) / np.sqrt(D) + bias)
    context = (probs @ v).transpose(0, 2, 1, 3).reshape(B, T, H)
    a = layer_norm(dense(context, "attention_1/output/dense") + x, w[p + "LayerNorm/gamma"], w[p + "LayerNorm/beta"])
    f = dense(gelu(dense(a, "ffn_1/intermediate/dense")), "ffn_1/intermediate/output/dense")
    return layer_norm(f + a, w[p + "LayerNorm_1/gamma"], w[p + "LayerNorm_1/beta"])


def encoder_forward(weights, config, word_ids, input_mask, type_ids):
    """Returns (sequence_output, pooled_output, all_layer_outputs) as the original computes them."""
    w = {k: v.astype(np.float64) for k, v in weights.items()}
    T = word_ids.shape[1]
    x = (w["bert/embeddings/word_embeddings"][word_ids] + w["bert/embeddings/token_type_embeddings"][type_ids]
         + w["bert/embeddings/position_embeddings"][:T])
    x = layer_norm(x, w["bert/embeddings/LayerNorm/gamma"], w["bert/embeddings/LayerNorm/beta"])
    if "bert/encoder/embedding_hidden_mapping_in/kernel" in w:
        x = x @ w["bert/encoder/embedding_hidden_mapping_in/kernel"] + w["bert/encoder/embedding_hidden_mapping_in/bias"]
    bias = (1.0 - input_mask[:, None, None, :].astype(np.float64)) * -10000.0
    outputs = []
    for layer in range(config.num_hidden_layers):
        group = int(layer / config.num_hidden_layers * config.num_hidden_groups)
        for inner in range(config.inner_group_num):
            x = _block(w, f"bert/encoder/transformer/group_{group}/inner_group_{inner}/", x, bias,
                       config.num_attention_heads)
            outputs.append(x)
    pooled = np.tanh(x[:, 0] @ w["bert/pooler/dense/kernel"] + w["bert/pooler/dense/bias"])
    return x, pooled, outputs


def pretraining_logits(weights, sequence_output, pooled_output, masked_positions):
    """(mlm_logits [B, P, V], sop_logits [B, 2]) of the original heads."""
    w = {k: v.astype(np.float64) for k, v in weights.items()}
    gathered = sequence_output[np.arange(sequence_output.shape[0])[:, None], masked_positions]
    x = gelu(gathered @ w["cls/predictions/transform/dense/kernel"] + w["cls/predictions/transform/dense/bias"])
    x = layer_norm(x, w["cls/predictions/transform/LayerNorm/gamma"], w["cls/predictions/transform/LayerNorm/beta"])
    mlm = x @ w["bert/embeddings/word_embeddings"].T + w["cls/predictions/output_bias"]
    sop = pooled_output @ w["cls/seq_relationship/output_weights"].T + w["cls/seq_relationship/output_bias"]
    return mlm, sop
