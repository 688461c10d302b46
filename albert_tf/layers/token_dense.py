"""Applying a Dense layer to every token as one 2-D matmul."""

from keras import ops


def dense_on_tokens(dense, x):
    """`dense(x)` for x of shape [..., D], computed on x flattened to [N, D].

    Keras' Dense reshapes around its matmul for inputs of rank > 2, and the reshape keeps
    TensorFlow's grappler from fusing MatMul + BiasAdd (+ activation) into one oneDNN kernel.
    On a 2-D input it fuses: the FFN dense + GELU of ALBERT-base on 1024 tokens (2 CPU cores)
    went from 14.7 to 11.7 ms in float32 and from 10.9 to 7.4 ms under mixed_bfloat16.
    """
    shape = ops.shape(x)
    flat = dense(ops.reshape(x, (-1, shape[-1])))
    return ops.reshape(flat, (*shape[:-1], dense.units))
