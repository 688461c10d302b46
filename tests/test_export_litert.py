"""LiteRT export: every task converts to TFLite builtins and runs in the LiteRT interpreter
(ai-edge-litert) as TensorFlow runs the same function; quantized files stay within their stated
tolerances; run_squad.py --export_dir writes a SavedModel and albert_model.tflite that pick the same
spans; bad settings are refused before any work."""

import csv
import json
import os

import numpy as np
import pytest
import tensorflow as tf
from ai_edge_litert.interpreter import Interpreter

import albert_tf
from albert_tf.checkpoint.native import save_native_checkpoint
from albert_tf.export.litert import LiteRTConfig, export_litert, task_outputs
from albert_tf.finetuning import squad_data
from albert_tf.finetuning.features import encode_tokens
from tests.conftest import run_script
from tests.harness import outputs_close

SAMPLE_MODEL = "tfrecords/sample/botchan.model"
MAX_SEQ_LENGTH = 32
# The converted float32 graph against TensorFlow running the same function.
FLOAT32_ATOL = 1e-4
# Largest probability difference from the Keras model allowed per quantization; measured on the tiny
# classifier below over the SST-2 sample dev set: float16 5e-7, dynamic_int8 1.6e-6, both agreeing on
# every row (the fine-tuned sample classifier's figures are in README "On-device").
QUANTIZED_ATOL = {"float16": 1e-5, "dynamic_int8": 1e-4}
MIN_AGREEMENT = 0.99

MODELS = {
    "encoder": (lambda c: albert_tf.AlbertEncoder(c), "encoder"),
    "classifier": (lambda c: albert_tf.AlbertClassifier(c, num_labels=3), "classifier"),
    "regressor": (lambda c: albert_tf.AlbertClassifier(c, num_labels=1), "classifier"),
    "pretraining": (lambda c: albert_tf.AlbertPretrainer(c), "pretraining"),
    "squad": (lambda c: albert_tf.AlbertQuestionAnswerer(c), "squad"),
    "squad-v2": (lambda c: albert_tf.AlbertQuestionAnswerer(c, version_2_with_negative=True), "squad"),
}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A small config with the sample tokenizer's vocabulary, and its JSON file."""
    config = albert_tf.AlbertConfig(vocab_size=4000, embedding_size=8, hidden_size=16, num_hidden_layers=2,
                                    num_attention_heads=2, intermediate_size=32, max_position_embeddings=64)
    config_file = tmp_path_factory.mktemp("tiny") / "albert_config.json"
    config_file.write_text(json.dumps(config.to_dict()))
    return config, str(config_file)


def run_litert(path, inputs):
    return Interpreter(model_path=str(path)).get_signature_runner()(**inputs)


def padded_batch(task):
    """Three rows of MAX_SEQ_LENGTH: one full, two padded; a second segment in each."""
    rng = np.random.default_rng(3)
    lengths = np.array([MAX_SEQ_LENGTH, 20, 7])
    mask = (np.arange(MAX_SEQ_LENGTH)[None] < lengths[:, None]).astype(np.int32)
    inputs = {"input_word_ids": rng.integers(5, 4000, mask.shape).astype(np.int32) * mask, "input_mask": mask,
              "input_type_ids": ((np.arange(MAX_SEQ_LENGTH)[None] >= lengths[:, None] // 2) * mask).astype(np.int32)}
    if task == "pretraining":
        inputs["masked_lm_positions"] = np.array([[1, 9, 30], [2, 15, 0], [1, 4, 0]], np.int32)
    return inputs


@pytest.mark.parametrize("name", MODELS)
def test_the_float32_file_computes_what_tensorflow_computes_on_a_padded_batch(name, tiny, tmp_path):
    build, task = MODELS[name]
    model = build(tiny[0])
    config = LiteRTConfig(task, MAX_SEQ_LENGTH, top_k=3, max_predictions_per_seq=3, max_answer_length=5)
    inputs = padded_batch(task)

    path = export_litert(model, config, str(tmp_path / "model.tflite"))

    expected = task_outputs(model, config)({k: tf.constant(v) for k, v in inputs.items()})
    outputs_close(run_litert(path, inputs), {k: np.asarray(v) for k, v in expected.items()}, FLOAT32_ATOL)


def sst2_dev_inputs():
    tokenizer = albert_tf.FullTokenizer(SAMPLE_MODEL)
    with open("tfrecords/sample/glue/SST-2/dev.tsv", encoding="utf-8") as f:
        sentences = [row["sentence"] for row in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)]
    encoded = [encode_tokens(tokenizer, tokenizer.tokenize(s), None, MAX_SEQ_LENGTH) for s in sentences]
    return {key: np.array([getattr(e, key) for e in encoded], np.int32)
            for key in ("input_word_ids", "input_mask", "input_type_ids")}


@pytest.mark.parametrize("quantization", ["float16", "dynamic_int8"])
def test_a_quantized_classifier_keeps_its_probabilities_and_decisions_on_the_sst2_sample(quantization, tiny,
                                                                                       tmp_path):
    model = albert_tf.AlbertClassifier(tiny[0], num_labels=2)
    inputs = sst2_dev_inputs()
    expected = tf.nn.softmax(model(inputs, training=False)["logits"]).numpy()

    path = export_litert(model, LiteRTConfig("classifier", MAX_SEQ_LENGTH, quantization), str(tmp_path / "q.tflite"))

    probabilities = run_litert(path, inputs)["probabilities"]
    agreement = np.mean(probabilities.argmax(-1) == expected.argmax(-1))
    difference = np.abs(probabilities - expected).max()
    assert (difference <= QUANTIZED_ATOL[quantization], agreement >= MIN_AGREEMENT) == (True, True), (
        difference, agreement)


# --- run_squad.py --export_dir ------------------------------------------------------------------

SQUAD_DEV = "tfrecords/sample/SQuAD/dev-v1.1.json"


@pytest.fixture(scope="module")
def squad_checkpoint(tmp_path_factory):
    """A (random) tiny SQuAD model's checkpoint."""
    config = albert_tf.AlbertConfig.from_json_file("run/configs/albert_tiny.json")
    return save_native_checkpoint(albert_tf.AlbertQuestionAnswerer(config), str(tmp_path_factory.mktemp("squad") / "ckpt"))


def run_squad_export(checkpoint, directory, *extra):
    """run_squad.py predicting the sample dev set from `checkpoint` with --export_dir; returns that."""
    run_script("run_squad.py", f"--predict_file={SQUAD_DEV}", "--albert_config_file=run/configs/albert_tiny.json",
               f"--spm_model_file={SAMPLE_MODEL}", f"--init_checkpoint={checkpoint}",
               f"--output_dir={directory / 'out'}", "--max_seq_length=128", "--doc_stride=64",
               "--max_query_length=24", "--do_predict", f"--export_dir={directory / 'export'}", *extra)
    return directory / "export"


@pytest.fixture(scope="module")
def squad_exported(squad_checkpoint, tmp_path_factory):
    return run_squad_export(squad_checkpoint, tmp_path_factory.mktemp("squad_export"))


def test_run_squad_export_dir_writes_the_originals_files(squad_exported):
    assert sorted(os.listdir(squad_exported)) == ["albert_model.tflite", "saved_model"]


def test_the_squad_tflite_picks_the_saved_models_best_spans_on_the_sample_dev_set(squad_exported):
    examples = squad_data.read_examples(SQUAD_DEV, False, False)
    features, _ = squad_data.build_features(examples, albert_tf.FullTokenizer(SAMPLE_MODEL), 128, 64, 24, False)
    windows = {key: np.array([getattr(f, key) for f in features], np.int32)
               for key in ("input_word_ids", "input_mask", "input_type_ids")}
    import tensorflow_text  # noqa: F401  (the SavedModel's tokenizer ops)
    saved_model = tf.saved_model.load(str(squad_exported / "saved_model" / "1")).signatures["serving_ids"]

    expected = saved_model(**{k: tf.constant(v) for k, v in windows.items()})
    spans = run_litert(squad_exported / "albert_model.tflite", windows)

    assert np.array_equal(np.stack([spans["start_index"], spans["end_index"]]),
                          np.stack([expected["start_index"].numpy(), expected["end_index"].numpy()]))


def test_run_squad_serving_dtype_bfloat16_exports_a_bfloat16_saved_model_beside_the_same_float32_tflite(
        squad_checkpoint, squad_exported, tmp_path):
    exported = run_squad_export(squad_checkpoint, tmp_path, "--serving_dtype=bfloat16")

    policy = json.loads((exported / "saved_model" / "1" / "assets.extra" / "export_config.json").read_text())["dtype_policy"]
    tflite, float32_tflite = ((d / "albert_model.tflite").read_bytes() for d in (exported, squad_exported))
    assert (policy, tflite == float32_tflite) == ("mixed_bfloat16", True)


# --- bad input ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def encoder_checkpoint(tiny, tmp_path_factory):
    return save_native_checkpoint(albert_tf.AlbertEncoder(tiny[0]), str(tmp_path_factory.mktemp("enc") / "ckpt"))


@pytest.mark.parametrize("flag, message", [
    ("--task=ner", "flag --task=ner: value should be one of <encoder|pretraining|classifier|squad>"),
    ("--quantization=int4", "flag --quantization=int4: value should be one of <none|float16|dynamic_int8>"),
    ("--max_seq_length=65", "--max_seq_length=65 exceeds the model's max_position_embeddings=64"),
])
def test_a_setting_the_file_cannot_have_is_refused_in_one_line_before_any_work(flag, message, tiny,
                                                                              encoder_checkpoint, tmp_path):
    output = tmp_path / "model.tflite"

    result = run_script("export_litert.py", f"--albert_config_file={tiny[1]}", f"--init_checkpoint={encoder_checkpoint}",
                        f"--output_file={output}", flag, expect_failure=True, timeout=120)

    assert (message in result.stderr, "Traceback" in result.stderr, os.listdir(tmp_path)) == (True, False, []), \
        result.stderr
