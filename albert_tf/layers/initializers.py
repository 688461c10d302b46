"""The original's weight initializer, one instance per weight."""

import keras


def truncated_normal(stddev):
    """A new truncated-normal initializer (the original's `create_initializer`), for one weight only.

    Keras 3 fixes an unseeded initializer's seed when the initializer is created, and the TF backend
    draws statelessly from it: two weights built from one instance get the same values (an FFN's two
    kernels would be equal, the position table would repeat the word table's first rows). So each
    weight asks for its own instance; its seed comes from Python's `random`, which
    `keras.utils.set_random_seed` controls.
    """
    return keras.initializers.TruncatedNormal(stddev=stddev)
