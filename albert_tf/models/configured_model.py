"""`ConfiguredModel`: a Keras model built from an `AlbertConfig` alone."""

import keras

from albert_tf.config import AlbertConfig


class ConfiguredModel(keras.Model):
    """Base of our models: the Keras config is the `AlbertConfig` (plus dtype policy and name),
    so `from_config` and `.keras` files rebuild the model from the original JSON fields.

    `HEADS` names the layers beside `encoder` that checkpoints restore by attribute name."""

    HEADS = ()

    def __init__(self, config, dtype=None, **kwargs):
        super().__init__(dtype=dtype, **kwargs)
        self.config = config

    def required_input(self, inputs, key):
        """inputs[key], or an error naming the model and the keys it was given."""
        if not isinstance(inputs, dict) or key not in inputs:
            got = sorted(inputs) if isinstance(inputs, dict) else type(inputs).__name__
            raise ValueError(f"{type(self).__name__} expects a dict of tensors with key '{key}'; got {got}")
        return inputs[key]

    def get_config(self):
        return {"config": self.config.to_dict(), "dtype": keras.dtype_policies.serialize(self.dtype_policy),
                "name": self.name}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        dtype = config.pop("dtype", None)
        return cls(AlbertConfig.from_dict(config.pop("config")),
                   dtype=keras.dtype_policies.deserialize(dtype) if dtype else None, **config)
