"""Shared checks for our Keras layers and models: build, call, config round trip, save/load.

Every layer and model test goes through these instead of repeating the same steps.
"""

import keras
import numpy as np


def outputs_close(a, b, atol):
    flat_a, flat_b = keras.tree.flatten(a), keras.tree.flatten(b)
    assert len(flat_a) == len(flat_b)
    for x, y in zip(flat_a, flat_b):
        np.testing.assert_allclose(np.asarray(x, np.float32), np.asarray(y, np.float32), atol=atol)


def check_config_round_trip(layer, *call_args):
    """A layer rebuilt from `get_config`, given the same weights, computes the same outputs."""
    expected = layer(*call_args)
    clone = type(layer).from_config(layer.get_config())
    clone(*call_args)
    clone.set_weights(layer.get_weights())
    outputs_close(clone(*call_args), expected, atol=0)
    return expected


def check_keras_save_load(model, inputs, tmp_path):
    """A model saved to `.keras` and loaded back computes the same outputs."""
    expected = model(inputs)
    path = str(tmp_path / "model.keras")
    model.save(path)
    restored = keras.saving.load_model(path)
    outputs_close(restored(inputs), expected, atol=0)


def check_layer_keras_save_load(layer, call_args, tmp_path):
    """A layer, saved to `.keras` inside a functional model and loaded back, computes the same."""
    inputs = [keras.Input(batch_shape=np.shape(a), dtype=np.asarray(a).dtype.name) for a in call_args]
    model = keras.Model(inputs, layer(*inputs))
    check_keras_save_load(model, list(call_args), tmp_path)
