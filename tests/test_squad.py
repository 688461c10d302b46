"""run/run_squad.py end to end on the tiny model and the sample SQuAD files: train → predict →
evaluate, predict-only runs with a held-out null threshold, and the feature cache."""

import json

import pytest

from tests.conftest import run_script
from tests.squad_fixtures import SAMPLE_MODEL

DEV_V2 = "tfrecords/sample/SQuAD/dev-v2.0.json"
HELDOUT_V2 = "tfrecords/sample/SQuAD/heldout-v2.0.json"


def small_squad(directory, version):
    data = json.load(open(f"tfrecords/sample/SQuAD/train-v{version}.json"))
    data["data"] = data["data"][:12]
    path = directory / f"small-v{version}.json"
    path.write_text(json.dumps(data))
    return str(path)


def squad_flags(output_dir, train_file, predict_file, *extra):
    return (f"--train_file={train_file}", f"--predict_file={predict_file}",
            "--albert_config_file=run/configs/albert_tiny.json", f"--spm_model_file={SAMPLE_MODEL}",
            f"--output_dir={output_dir}", "--max_seq_length=128", "--doc_stride=64", "--max_query_length=24",
            "--train_batch_size=8", "--predict_batch_size=8", "--iterations_per_loop=50", *extra)


@pytest.fixture(scope="module", params=["1.1", "2.0"])
def fitted(request, tmp_path_factory):
    """A model trained on a few sample questions until it fits them, then asked the same
    questions: (version, output_dir)."""
    directory = tmp_path_factory.mktemp(f"squad{request.param}")
    small = small_squad(directory, request.param)
    v2 = ("--version_2_with_negative", "--dropout_prob=0") if request.param == "2.0" else ()
    run_script("run_squad.py", *squad_flags(directory / "out", small, small, "--do_train", "--do_predict",
                                            "--num_train_epochs=160", "--learning_rate=1e-3",
                                            "--save_checkpoints_steps=1000", *v2))
    return request.param, directory / "out"


@pytest.mark.slow
def test_run_squad_learns_its_training_questions(fitted):
    version, output_dir = fitted

    results = json.loads((output_dir / "predict_results.json").read_text())

    # Fitting the 12 questions it trained on shows windows, positions and decoding agree. Exact
    # match, since the sample's one-word answers include articles, which v1.1's F1 scores 0.
    assert results["exact_match" if version == "1.1" else "exact"] > 75


@pytest.mark.slow
def test_run_squad_writes_the_original_outputs(fitted):
    version, output_dir = fitted

    written = sorted(p.name for p in output_dir.glob("*.json") if "predict" in p.name or "null" in p.name)

    # predict.json is the feature cache's note, predict_results.json the scores.
    assert written == sorted(["nbest_predictions.json", "predictions.json", "predict.json", "predict_results.json"]
                             + (["null_odds.json"] if version == "2.0" else []))


@pytest.fixture(scope="module")
def predicted_v2(tmp_path_factory):
    """A v2.0 model trained for an epoch, then a predict-only run of it on the sample dev file with
    the threshold tuned on the held-out file: (output_dir, that run's process)."""
    directory = tmp_path_factory.mktemp("squad2")
    small = small_squad(directory, "2.0")
    run_script("run_squad.py", *squad_flags(directory / "out", small, small, "--version_2_with_negative", "--do_train",
                                            "--num_train_epochs=1"))
    predict = run_script("run_squad.py", *predict_v2_flags(directory / "out"))
    return directory / "out", predict


def predict_v2_flags(output_dir):
    """Predict the sample dev file, threshold tuned on the held-out file, features cached under
    the original's kind of --predict_feature_file name."""
    return squad_flags(output_dir, "", DEV_V2, "--version_2_with_negative", "--do_predict",
                       f"--null_threshold_file={HELDOUT_V2}", f"--predict_feature_file={output_dir}/dev.tf_record")


def test_predict_only_needs_no_train_file_and_tunes_the_threshold_on_the_held_out_file(predicted_v2):
    _, predict = predicted_v2

    assert f"tuned on {HELDOUT_V2}" in predict.stderr


def test_an_original_feature_file_name_is_the_cache_file_not_a_prefix(predicted_v2):
    output_dir, _ = predicted_v2

    assert sorted(p.name for p in output_dir.glob("dev*")) == ["dev.json", "dev.tf_record"]


def test_predict_only_answers_every_question_of_the_predict_file(predicted_v2):
    output_dir, _ = predicted_v2

    questions = [qa["id"] for article in json.load(open(DEV_V2))["data"] for paragraph in article["paragraphs"]
                 for qa in paragraph["qas"]]

    assert sorted(json.loads((output_dir / "predictions.json").read_text())) == sorted(questions)


@pytest.fixture(scope="module")
def predicted_again(predicted_v2):
    """The predictions of the first predict-only run, and a second, identical run's process."""
    output_dir, _ = predicted_v2
    first = (output_dir / "predictions.json").read_text()
    again = run_script("run_squad.py", *predict_v2_flags(output_dir))
    return first, again, output_dir


def test_a_second_prediction_reads_the_cached_windows(predicted_again):
    _, again, _ = predicted_again

    assert "Read cached SQuAD dev-v2.0.json" in again.stderr


def test_a_second_prediction_from_the_cache_answers_the_same(predicted_again):
    first, _, output_dir = predicted_again

    assert (output_dir / "predictions.json").read_text() == first


def test_the_evaluated_file_is_refused_as_the_null_threshold_file(tmp_path):
    result = run_script("run_squad.py", *squad_flags(tmp_path / "out", "", DEV_V2, "--version_2_with_negative",
                                                     "--do_predict", f"--null_threshold_file={DEV_V2}"),
                        expect_failure=True)

    assert "--null_threshold_file holds the questions of --predict_file" in result.stderr


def test_predict_without_any_checkpoint_fails_at_once_instead_of_waiting(tmp_path):
    result = run_script("run_squad.py", *squad_flags(tmp_path / "out", "", DEV_V2, "--version_2_with_negative",
                                                     "--do_predict"), expect_failure=True, timeout=120)

    assert "nothing to predict with" in result.stderr


def test_training_leaves_out_the_pooler_that_no_span_head_reads(tmp_path):
    small = small_squad(tmp_path, "2.0")
    result = run_script("run_squad.py", *squad_flags(tmp_path / "out", small, small, "--do_train",
                                                     "--version_2_with_negative", "--num_train_epochs=0.1"))

    assert (tmp_path / "out" / "checkpoint").exists()
    assert "Gradients do not exist" not in result.stderr, result.stderr  # Keras' warning for the pooler
