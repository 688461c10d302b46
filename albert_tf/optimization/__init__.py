"""The original release's optimization: LAMB or AdamW, warmup + polynomial decay, clip at 1.0."""

from albert_tf.optimization.lamb import AdamWeightDecay, Lamb
from albert_tf.optimization.schedule import WarmupPolynomialDecay

OPTIMIZERS = {"lamb": Lamb, "adamw": AdamWeightDecay}
GLOBAL_GRADIENT_CLIP_NORM = 1.0


def create_optimizer(optimizer_name, learning_rate, num_train_steps, num_warmup_steps,
                     start_warmup_step=0, poly_power=1.0):
    """The optimizer the original `create_optimizer` builds, as a Keras 3 optimizer.

    Weight decay 0.01, betas 0.9/0.999, epsilon 1e-6, LayerNorm and bias variables excluded from
    decay (and, for LAMB, from the trust ratio), the summed gradient clipped to global norm 1.0,
    and the learning rate following `WarmupPolynomialDecay` of the optimizer's step counter.

    Args:
        optimizer_name: "lamb" or "adamw" (the original `--optimizer` values).
        learning_rate: peak learning rate.
        num_train_steps: steps over which the learning rate decays to 0.
        num_warmup_steps: steps of linear warmup; 0 for none.
        start_warmup_step: step at which warmup starts.
        poly_power: power of the polynomial decay.
    """
    if optimizer_name not in OPTIMIZERS:
        raise ValueError(f"optimizer_name must be one of {sorted(OPTIMIZERS)}, "
                         f"got {optimizer_name!r}")
    schedule = WarmupPolynomialDecay(learning_rate, num_train_steps, num_warmup_steps,
                                     start_warmup_step, poly_power)
    return OPTIMIZERS[optimizer_name](learning_rate=schedule,
                                      global_gradient_clip_norm=GLOBAL_GRADIENT_CLIP_NORM)
