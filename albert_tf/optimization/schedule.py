"""The original release's learning-rate schedule: linear warmup over a polynomial decay."""

import numbers

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="albert_tf")
class WarmupPolynomialDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Polynomial decay to 0 counted from step 0, overridden by a linear warmup.

    For optimizer step `t` (the count of updates already applied):

    - decay: `learning_rate * (1 - min(t, num_train_steps) / num_train_steps) ** poly_power`,
      so the decay runs from step 0, not from the end of warmup, and stays at 0 after
      `num_train_steps`;
    - warmup, only when `num_warmup_steps > 0`: with `s = t - start_warmup_step`, every step with
      `s < num_warmup_steps` uses `learning_rate * s / num_warmup_steps` instead (0 at `s == 0`).

    As in the original, steps before `start_warmup_step` have `s < 0` and therefore a negative
    learning rate; `start_warmup_step` is meant for runs whose step counter already starts there.
    """

    def __init__(self, learning_rate, num_train_steps, num_warmup_steps=0, start_warmup_step=0,
                 poly_power=1.0):
        _require_int("num_train_steps", num_train_steps, minimum=1)
        _require_int("num_warmup_steps", num_warmup_steps, minimum=0)
        _require_int("start_warmup_step", start_warmup_step, minimum=0)
        self.learning_rate = float(learning_rate)
        self.num_train_steps = int(num_train_steps)
        self.num_warmup_steps = int(num_warmup_steps)
        self.start_warmup_step = int(start_warmup_step)
        self.poly_power = float(poly_power)

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        decay_progress = tf.minimum(step, float(self.num_train_steps)) / float(self.num_train_steps)
        learning_rate = self.learning_rate * tf.pow(1.0 - decay_progress, self.poly_power)
        if self.num_warmup_steps:
            warmup_step = step - float(self.start_warmup_step)
            warmup_learning_rate = self.learning_rate * warmup_step / float(self.num_warmup_steps)
            learning_rate = tf.where(warmup_step < float(self.num_warmup_steps),
                                     warmup_learning_rate, learning_rate)
        return learning_rate

    def get_config(self):
        return {
            "learning_rate": self.learning_rate,
            "num_train_steps": self.num_train_steps,
            "num_warmup_steps": self.num_warmup_steps,
            "start_warmup_step": self.start_warmup_step,
            "poly_power": self.poly_power,
        }


def _require_int(name, value, minimum):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
