"""Input pipelines.

`pretraining_dataset` and `RECORD_FEATURES` are imported on first use: the pretraining data tool's
worker processes import `albert_tf.data.pretraining_records`, which needs no TensorFlow, and the
input pipeline does.
"""

import sys
import types

__all__ = ["RECORD_FEATURES", "pretraining_dataset"]


class _Package(types.ModuleType):
    """`pretraining_dataset` stays the function once its module, of the same name, is imported:
    importing a submodule sets the package's attribute of that name, which the setter ignores."""

    @property
    def pretraining_dataset(self):
        from albert_tf.data.pretraining_dataset import pretraining_dataset

        return pretraining_dataset

    @pretraining_dataset.setter
    def pretraining_dataset(self, submodule):
        del submodule

    @property
    def RECORD_FEATURES(self):  # noqa: N802  (a module constant)
        from albert_tf.data.pretraining_dataset import RECORD_FEATURES

        return RECORD_FEATURES


sys.modules[__name__].__class__ = _Package
