"""LAMB and AdamWeightDecay as the original ALBERT release updates its weights.

Why not `keras.optimizers.Lamb` (checked against keras 3.15.1,
`keras/src/optimizers/lamb.py` and `keras/src/optimizers/base_optimizer.py`):

- it bias-corrects both moments (`m / (1 - beta_1**t)`, `v / (1 - beta_2**t)`); the original
  does not;
- its weight decay (off unless `weight_decay` is given) is keras' generic decoupled decay,
  `w -= learning_rate * weight_decay * w`, applied to the weights before and outside the LAMB
  update, so it never enters the trust ratio; the original adds `weight_decay_rate * w` to the update and then takes the trust ratio
  of that sum;
- its only exclusion mechanism is the base class's `exclude_from_weight_decay()` method (not a
  constructor argument, not in `get_config`, matched against `variable.name`, not the path);
  there is no way to exclude variables from layer adaptation: every variable gets a trust ratio;
- its epsilon defaults to 1e-7 (the original uses 1e-6).

Gradient clipping, too, is done here rather than with keras' `global_clipnorm`: keras clips in
`apply()` before the TensorFlow backend sums the gradients over replicas, so under a
`tf.distribute` strategy it clips each replica's partial gradient. `global_gradient_clip_norm`
clips the summed gradient with `tf.clip_by_global_norm`, so the update does not depend on the
number of replicas and equals the original's single-device update.
"""

import re

import keras
import tensorflow as tf
from keras import ops

DEFAULT_EXCLUDE_FROM_WEIGHT_DECAY = ("LayerNorm", "layer_norm", "bias")


@keras.saving.register_keras_serializable(package="albert_tf")
class AdamWeightDecay(keras.optimizers.Optimizer):
    """The original `AdamWeightDecayOptimizer`; with `layer_adaptation=True`, its `LAMBOptimizer`.

    Per variable `w` with gradient `g`:

        m = beta_1 * m + (1 - beta_1) * g
        v = beta_2 * v + (1 - beta_2) * g**2          # no bias correction
        u = m / (sqrt(v) + epsilon)
        u += weight_decay_rate * w                     # unless excluded from weight decay
        r = ||w|| / ||u|| if both > 0 else 1           # LAMB only, unless excluded from adaptation
        w -= r * learning_rate * u

    Norms are taken over the whole tensor. A variable is excluded when any regular expression
    in the exclusion list is found (`re.search`) in its `path`, e.g. `encoder/layer_norm/gamma`
    or `dense/bias`. `exclude_from_layer_adaptation=None` means the weight-decay list.

    Args:
        learning_rate: float or `LearningRateSchedule`.
        weight_decay_rate: coefficient of `w` added to the update.
        beta_1, beta_2, epsilon: Adam's moment decay rates and denominator offset.
        exclude_from_weight_decay: regular expressions naming variables that get no decay.
        layer_adaptation: whether to scale each update by the trust ratio `r` (LAMB).
        exclude_from_layer_adaptation: regular expressions naming variables with `r = 1`.
        global_gradient_clip_norm: if set, the gradients, summed over replicas, are clipped to
            this global norm (`tf.clip_by_global_norm`) before the update.
        **kwargs: other `keras.optimizers.Optimizer` arguments. `weight_decay` and
            `global_clipnorm` are rejected: use `weight_decay_rate` and
            `global_gradient_clip_norm`, whose semantics are the original's.
    """

    def __init__(self, learning_rate=0.001, weight_decay_rate=0.01, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-6, exclude_from_weight_decay=DEFAULT_EXCLUDE_FROM_WEIGHT_DECAY,
                 layer_adaptation=False, exclude_from_layer_adaptation=None,
                 global_gradient_clip_norm=None, **kwargs):
        for keras_name, our_name in (("weight_decay", "weight_decay_rate"),
                                     ("global_clipnorm", "global_gradient_clip_norm")):
            if kwargs.get(keras_name) is not None:
                raise ValueError(f"{type(self).__name__} does not take keras' `{keras_name}` "
                                 f"(got {kwargs[keras_name]!r}); pass `{our_name}`, which "
                                 "behaves as in the original release")
        for argument, patterns in (("exclude_from_weight_decay", exclude_from_weight_decay),
                                   ("exclude_from_layer_adaptation", exclude_from_layer_adaptation)):
            if isinstance(patterns, str):
                raise ValueError(f"{argument} must be a list of regular expressions, got the "
                                 f"string {patterns!r}; write [{patterns!r}]")
        if global_gradient_clip_norm is not None and not global_gradient_clip_norm > 0:
            raise ValueError("global_gradient_clip_norm must be None or > 0, got "
                             f"{global_gradient_clip_norm!r}")
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.weight_decay_rate = weight_decay_rate
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.weight_decay_exclusions = list(exclude_from_weight_decay or [])
        self.layer_adaptation = layer_adaptation
        self.layer_adaptation_exclusions = list(
            self.weight_decay_exclusions if exclude_from_layer_adaptation is None
            else exclude_from_layer_adaptation)
        self.global_gradient_clip_norm = global_gradient_clip_norm

    def exclude_from_weight_decay(self, var_list=None, var_names=None):
        raise ValueError(f"{type(self).__name__} takes its weight-decay exclusions as the "
                         "constructor argument `exclude_from_weight_decay` (regular expressions "
                         "searched in variable paths), not through this keras method")

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._momentums, self._velocities = self.add_optimizer_variables(
            var_list, ["momentum", "velocity"])
        # Decided once here from the variable paths: update_step receives backend variables,
        # which carry no keras path.
        self._decays = [not _matches_any(self.weight_decay_exclusions, v) for v in var_list]
        self._adapts = [self.layer_adaptation
                        and not _matches_any(self.layer_adaptation_exclusions, v) for v in var_list]

    def update_step(self, gradient, variable, learning_rate):
        index = self._get_variable_index(variable)
        dtype = variable.dtype
        # Embedding gradients arrive as IndexedSlices; the moment updates are dense.
        gradient = ops.cast(tf.convert_to_tensor(gradient), dtype)
        momentum = self._momentums[index]
        velocity = self._velocities[index]

        # 1 - beta is formed in Python float64, as the original does: in float32,
        # 1 - 0.999 is off by 1.3e-5 relative, which shifts every update by ~6e-6.
        next_momentum = (ops.cast(self.beta_1, dtype) * momentum
                         + ops.cast(1.0 - self.beta_1, dtype) * gradient)
        next_velocity = (ops.cast(self.beta_2, dtype) * velocity
                         + ops.cast(1.0 - self.beta_2, dtype) * ops.square(gradient))
        update = next_momentum / (ops.sqrt(next_velocity) + ops.cast(self.epsilon, dtype))
        if self._decays[index]:
            update = update + ops.cast(self.weight_decay_rate, dtype) * variable
        step_size = ops.cast(learning_rate, dtype)
        if self._adapts[index]:
            weight_norm = ops.sqrt(ops.sum(ops.square(variable)))
            update_norm = ops.sqrt(ops.sum(ops.square(update)))
            trust_ratio = ops.where(ops.logical_and(weight_norm > 0, update_norm > 0),
                                    weight_norm / update_norm, ops.ones_like(weight_norm))
            step_size = trust_ratio * step_size

        self.assign(momentum, next_momentum)
        self.assign(velocity, next_velocity)
        self.assign_sub(variable, step_size * update)

    def _all_reduce_sum_gradients(self, grads_and_vars):
        # The TensorFlow backend's single point where the replicas' gradients have been summed
        # and no update has happened yet: the one place to clip the whole-batch gradient.
        grads_and_vars = super()._all_reduce_sum_gradients(grads_and_vars)
        if self.global_gradient_clip_norm is None:
            return grads_and_vars
        gradients, variables = zip(*grads_and_vars)
        clipped, _ = tf.clip_by_global_norm(list(gradients), self.global_gradient_clip_norm)
        return list(zip(clipped, variables))

    def get_config(self):
        config = super().get_config()
        config.update({
            "weight_decay_rate": self.weight_decay_rate,
            "beta_1": self.beta_1,
            "beta_2": self.beta_2,
            "epsilon": self.epsilon,
            "exclude_from_weight_decay": list(self.weight_decay_exclusions),
            "layer_adaptation": self.layer_adaptation,
            "exclude_from_layer_adaptation": list(self.layer_adaptation_exclusions),
            "global_gradient_clip_norm": self.global_gradient_clip_norm,
        })
        return config


@keras.saving.register_keras_serializable(package="albert_tf")
class Lamb(AdamWeightDecay):
    """The original `LAMBOptimizer`: `AdamWeightDecay` with the layer-wise trust ratio on."""

    def __init__(self, learning_rate=0.001, *, layer_adaptation=True, **kwargs):
        super().__init__(learning_rate=learning_rate, layer_adaptation=layer_adaptation, **kwargs)


def _matches_any(patterns, variable):
    # Plain tf.Variables have no keras path; their name plays the same role.
    path = getattr(variable, "path", variable.name)
    return any(re.search(pattern, path) for pattern in patterns)
