"""The tf.distribute strategy a job's device flags select."""

import pytest
import tensorflow as tf

from albert_tf.training import strategy as strategies


def test_without_a_tpu_the_two_logical_cpus_of_the_tests_are_mirrored():
    assert strategies.default_strategy_name(use_tpu=False) == "mirrored"


def test_use_tpu_selects_the_tpu_strategy():
    assert strategies.default_strategy_name(use_tpu=True) == "tpu"


def test_mirrored_runs_one_replica_per_logical_cpu():
    assert strategies.create_strategy("mirrored").num_replicas_in_sync == 2


def test_one_device_runs_one_replica():
    assert strategies.create_strategy("one_device").num_replicas_in_sync == 1


def test_the_tpu_is_resolved_from_the_original_flags(monkeypatch):
    calls = []

    class Resolver:
        def __init__(self, **kwargs):
            calls.append(("resolver", kwargs))

    class Strategy:
        num_replicas_in_sync = 8

        def __init__(self, resolver):
            calls.append(("strategy", type(resolver).__name__))

    monkeypatch.setattr(tf.distribute.cluster_resolver, "TPUClusterResolver", Resolver)
    monkeypatch.setattr(tf.config, "experimental_connect_to_cluster", lambda r: calls.append(("connect", None)))
    monkeypatch.setattr(tf.tpu.experimental, "initialize_tpu_system", lambda r: calls.append(("initialize", None)))
    monkeypatch.setattr(tf.distribute, "TPUStrategy", Strategy)

    strategies.create_strategy("tpu", tpu_name="my-tpu", tpu_zone="us-central1-b", gcp_project="proj")

    # As TPUEstimator's RunConfig did: the resolver from tpu_name, zone and project, then the system.
    assert calls == [("resolver", {"tpu": "my-tpu", "zone": "us-central1-b", "project": "proj"}),
                     ("connect", None), ("initialize", None), ("strategy", "Resolver")]


def test_master_names_the_tpu_when_tpu_name_is_not_given(monkeypatch):
    seen = {}
    monkeypatch.setattr(tf.distribute.cluster_resolver, "TPUClusterResolver",
                        lambda **kwargs: seen.update(kwargs) or object())
    monkeypatch.setattr(tf.config, "experimental_connect_to_cluster", lambda r: None)
    monkeypatch.setattr(tf.tpu.experimental, "initialize_tpu_system", lambda r: None)
    monkeypatch.setattr(tf.distribute, "TPUStrategy", lambda r: type("S", (), {"num_replicas_in_sync": 8})())

    strategies.create_strategy("tpu", master="grpc://10.0.0.2:8470")

    assert seen["tpu"] == "grpc://10.0.0.2:8470"


def test_an_unknown_strategy_names_the_choices():
    with pytest.raises(ValueError, match=r"strategy 'gpu' is not one of \('tpu', 'mirrored'"):
        strategies.create_strategy("gpu")


@pytest.mark.parametrize("strategy", ["mirrored", "default"])
@pytest.mark.parametrize("mixed_precision, jit_compile, warned", [
    ("mixed_bfloat16", True, True), ("mixed_bfloat16", False, False), ("float32", True, False)])
def test_xla_with_bfloat16_on_cpus_is_warned_of(strategy, mixed_precision, jit_compile, warned, absl_log):
    # The default strategy (no scope entered) lists no devices of its own.
    strategy = strategies.create_strategy("mirrored") if strategy == "mirrored" else tf.distribute.get_strategy()

    strategies.warn_of_xla_bfloat16_on_cpu(strategy, mixed_precision, jit_compile)

    assert ("XLA on CPU computes bfloat16 matrix products in float32" in absl_log.text) == warned
