"""Weights with a NaN or an infinity are never saved under a final name, loaded or trusted.

A diverged step can leave non-finite weights while the loss reported for the same loop (computed
before the step) still looks fine, and a model with NaN weights still "scores" the majority
class; so training checks the weights themselves before every save, and loading checks what it
loaded.
"""

import tensorflow as tf


class NonFiniteWeightsError(ValueError):
    """Weights hold a NaN or an infinity."""


def non_finite_variables(variables):
    """Names of the floating-point `variables` that hold a NaN or an infinity."""
    return [getattr(v, "path", None) or v.name for v in variables
            if tf.as_dtype(v.dtype).is_floating and not bool(tf.reduce_all(tf.math.is_finite(v)))]


def check_finite(variables, source):
    """Raises `NonFiniteWeightsError` naming `source` (a checkpoint, a step) and the variables at fault."""
    bad = non_finite_variables(variables)
    if bad:
        raise NonFiniteWeightsError(
            f"{source} holds non-finite weights in {len(bad)} variable(s), e.g. {bad[0]}: the training that made "
            "them diverged; use an earlier checkpoint")


def check_before_saving(variables, step, last_good_checkpoint, remedy):
    """Raises `FloatingPointError` if training left non-finite `variables` at `step`, so nothing is saved.

    A loop's loss is computed before its last update, so a finite loss cannot vouch for the weights.
    """
    bad = non_finite_variables(variables)
    if bad:
        raise FloatingPointError(
            f"weights became non-finite by step {step} ({len(bad)} variables, e.g. {bad[0]}); stopped without "
            f"saving. The last good checkpoint is {last_good_checkpoint}. {remedy}, then rerun to resume from it.")
