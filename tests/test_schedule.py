import pytest

from albert_tf.optimization.schedule import WarmupPolynomialDecay

LINEAR_WITH_WARMUP = dict(learning_rate=2.0, num_train_steps=100, num_warmup_steps=10)
SQUARED_DECAY = dict(learning_rate=2.0, num_train_steps=100, poly_power=2.0)
LATE_WARMUP = dict(learning_rate=2.0, num_train_steps=100, num_warmup_steps=10, start_warmup_step=20)


@pytest.mark.parametrize("schedule_args, step, expected", [
    (LINEAR_WITH_WARMUP, 0, 0.0),      # warmup starts from zero
    (LINEAR_WITH_WARMUP, 5, 1.0),
    (LINEAR_WITH_WARMUP, 9, 1.8),
    (LINEAR_WITH_WARMUP, 10, 1.8),     # decay counts from step 0, so warmup hands over at 2*(1-10/100)
    (LINEAR_WITH_WARMUP, 50, 1.0),
    (LINEAR_WITH_WARMUP, 100, 0.0),
    (LINEAR_WITH_WARMUP, 150, 0.0),    # no cycling: clipped at num_train_steps
    (SQUARED_DECAY, 0, 2.0),           # without warmup the first step gets the full rate
    (SQUARED_DECAY, 50, 0.5),
    (SQUARED_DECAY, 90, 0.02),
    (LATE_WARMUP, 25, 1.0),            # warmup measured from start_warmup_step
    (LATE_WARMUP, 30, 1.4),
    (LATE_WARMUP, 10, -2.0),           # the original's formula goes negative before start_warmup_step
])
def test_learning_rate_matches_hand_computed_table(schedule_args, step, expected):
    schedule = WarmupPolynomialDecay(**schedule_args)

    assert float(schedule(step)) == pytest.approx(expected, rel=1e-6, abs=1e-7)


def test_config_round_trip_gives_the_same_rates():
    schedule = WarmupPolynomialDecay(**LATE_WARMUP, poly_power=1.5)

    restored = WarmupPolynomialDecay.from_config(schedule.get_config())

    assert [float(restored(s)) for s in range(0, 120, 7)] == [float(schedule(s)) for s in range(0, 120, 7)]


@pytest.mark.parametrize("argument, value", [("num_train_steps", 0), ("num_warmup_steps", -1),
                                             ("start_warmup_step", 2.5)])
def test_bad_step_counts_name_the_argument(argument, value):
    args = dict(LINEAR_WITH_WARMUP, **{argument: value})

    with pytest.raises(ValueError, match=rf"{argument} must be an integer >= \d, got {value}"):
        WarmupPolynomialDecay(**args)
