"""The entry points in run/ work as the README shows them."""

from tests.conftest import run_script


def test_forward_prints_every_output_of_the_tiny_model():
    result = run_script("forward.py", "--albert_config_file=run/configs/albert_tiny.json", "--batch_size=2",
                        "--seq_length=16", "--max_predictions_per_seq=3")

    assert "mlm_logits       (2, 3, 8000)" in result.stdout and "encoder_outputs  4 x (2, 16, 64)" in result.stdout


def test_model_benchmark_reports_every_dtype_and_xla_setting():
    result = run_script("benchmark.py", "model", "--config=run/configs/albert_tiny.json", "--batch=2", "--seq=16",
                        "--peer=none", "--rounds=1", "--calls=1")

    rows = [line.split()[:3] for line in result.stdout.splitlines() if "albert_tf" in line.split()]
    assert rows == [[d, x, "albert_tf"] for d in ("float32", "mixed_bfloat16") for x in ("off", "on")]
