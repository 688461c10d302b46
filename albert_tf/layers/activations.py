"""The activations an original `albert_config.json` can name."""

import keras


@keras.saving.register_keras_serializable(package="albert_tf")
def gelu_tanh(x):
    """GELU in the original's tanh approximation: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))."""
    return keras.activations.gelu(x, approximate=True)


_ACTIVATIONS = {
    "gelu": gelu_tanh,
    "gelu_new": gelu_tanh,
    "relu": keras.activations.relu,
    "tanh": keras.activations.tanh,
    "linear": None,
}

ACTIVATION_NAMES = tuple(_ACTIVATIONS)


def get_activation(name):
    """Maps a `hidden_act` value to a callable (None for "linear")."""
    try:
        return _ACTIVATIONS[name]
    except KeyError:
        raise ValueError(f"hidden_act {name!r} is not one of {sorted(_ACTIVATIONS)}") from None
