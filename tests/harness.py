"""Shared checks for our Keras layers and models: build, call, config round trip, save/load.

Every layer and model test goes through these instead of repeating the same steps.
"""

import keras
import numpy as np

import albert_tf


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


def randomly_initialized_weights(model):
    """The weights a fresh model drew at random (kernels, tables), not its constant biases and gammas."""
    return {w.path: np.asarray(w).ravel() for w in model.weights if np.ptp(np.asarray(w)) > 0}


def weights_sharing_a_draw(model, prefix=8):
    """Paths of weights whose first `prefix` values repeat another weight's: one draw used twice."""
    seen, repeats = {}, []
    for path, values in randomly_initialized_weights(model).items():
        key = tuple(values[:prefix])
        if key in seen:
            repeats.append((seen[key], path))
        seen.setdefault(key, path)
    return repeats


def randomized(model, seed=1):
    """`model` with every weight drawn at random, LayerNorm gammas and biases too (so a swap shows)."""
    rng = np.random.default_rng(seed)
    for weight in model.weights:
        weight.assign((0.3 * rng.standard_normal(weight.shape)).astype(np.float32))
    return model


# Our model for each transformers class (a classifier of 3 classes).
HUGGINGFACE_CLASSES = {
    "AlbertModel": lambda config: albert_tf.AlbertEncoder(config),
    "AlbertForPreTraining": lambda config: albert_tf.AlbertPretrainer(config),
    "AlbertForSequenceClassification": lambda config: albert_tf.AlbertClassifier(config, 3),
    "AlbertForQuestionAnswering": lambda config: albert_tf.AlbertQuestionAnswerer(config),
    "AlbertForMultipleChoice": lambda config: albert_tf.AlbertMultipleChoice(config),
}
