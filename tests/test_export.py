"""SavedModel export: signatures, parity with the Keras model in a process without albert_tf,
raw-text edge cases, warmup requests, determinism and the version directory."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

import albert_tf
from albert_tf.checkpoint.native import save_native_checkpoint
from albert_tf.finetuning.features import encode_text
from tests.conftest import REPO_ROOT, run_script

SAMPLE_MODEL = "tfrecords/sample/botchan.model"
MAX_SEQ_LENGTH = 48
# float32 in both; the graph pads to the batch's longest row instead of max_seq_length.
PARITY_ATOL = 1e-5

EDGE_TEXTS = [b"", b"   \t\n ", "Caf\u00e9 na\u00efve \u00dcber, 3,000.50!".encode(), "\u041f\u0440\u0438\u0432\u0435\u0442 "
              "\u043c\u0438\u0440".encode(), "\u6771\u4eac\u306f\u5927\u304d\u3044\u3002".encode(),
              b"invalid \xff\xfe utf-8", ("a very long sentence " * 60).encode()]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A small config with the sample tokenizer's vocabulary, its JSON, and a tokenizer."""
    directory = tmp_path_factory.mktemp("tiny")
    config = albert_tf.AlbertConfig(vocab_size=4000, embedding_size=8, hidden_size=16, num_hidden_layers=2,
                                    num_attention_heads=2, intermediate_size=32, max_position_embeddings=64)
    config_file = directory / "albert_config.json"
    config_file.write_text(json.dumps(config.to_dict()))
    return config, str(config_file), albert_tf.FullTokenizer(SAMPLE_MODEL)


def export(model, config_file, directory, task, *flags):
    checkpoint = save_native_checkpoint(model, str(directory / f"{task}-ckpt"))
    run_script("export_saved_model.py", f"--task={task}", f"--albert_config_file={config_file}",
               f"--init_checkpoint={checkpoint}", f"--spm_model_file={SAMPLE_MODEL}",
               f"--export_dir={directory / task}", f"--max_seq_length={MAX_SEQ_LENGTH}", *flags)
    return str(directory / task / "1")


def serve(export_dir, signature, tmp_path, **inputs):
    """Runs a signature in a fresh process that imports only tensorflow and tensorflow_text."""
    inputs_path, outputs_path = tmp_path / "inputs.npz", tmp_path / "outputs.npz"
    np.savez(inputs_path, **{k: np.asarray(v, dtype=object if isinstance(v[0], bytes) else None)
                             for k, v in inputs.items()})
    subprocess.run([sys.executable, os.path.join(REPO_ROOT, "tests", "serving_client.py"), export_dir, signature,
                    str(inputs_path), str(outputs_path)], check=True, capture_output=True,
                   env={"PATH": os.environ.get("PATH", ""), "TF_CPP_MIN_LOG_LEVEL": "3"})
    with np.load(outputs_path, allow_pickle=True) as outputs:
        return {name: outputs[name] for name in outputs.files}


def python_ids(tokenizer, texts_a, texts_b=None):
    """The ids fine-tuning builds (invalid UTF-8 replaced by U+FFFD, as the export documents)."""
    decode = lambda b: b.decode("utf-8", errors="replace")
    encoded = [encode_text(tokenizer, decode(a), decode(b) if texts_b else None, MAX_SEQ_LENGTH)
               for a, b in zip(texts_a, texts_b or texts_a)]
    return {key: np.array([getattr(e, key) for e in encoded], np.int32)
            for key in ("input_word_ids", "input_mask", "input_type_ids")}


@pytest.fixture(scope="module")
def encoder_export(tiny, tmp_path_factory):
    config, config_file, _ = tiny
    model = albert_tf.AlbertEncoder(config)
    return model, export(model, config_file, tmp_path_factory.mktemp("exports"), "encoder")


@pytest.mark.parametrize("batch", [1, 7])
def test_raw_text_signature_matches_the_keras_model_on_python_token_ids(batch, tiny, encoder_export, tmp_path):
    _, _, tokenizer = tiny
    model, export_dir = encoder_export
    texts_a = EDGE_TEXTS[:batch]
    texts_b = list(reversed(EDGE_TEXTS))[:batch]

    served = serve(export_dir, "serving_default", tmp_path, text_a=texts_a, text_b=texts_b)

    ids = python_ids(tokenizer, texts_a, texts_b)
    expected = model(ids)
    width = served["sequence_output"].shape[1]
    assert not ids["input_mask"][:, width:].any()  # the graph pads only to the longest row
    np.testing.assert_allclose(served["pooled_output"], expected["pooled_output"], atol=PARITY_ATOL)
    np.testing.assert_allclose(served["sequence_output"], np.asarray(expected["sequence_output"])[:, :width],
                               atol=PARITY_ATOL)


def test_ids_signature_matches_the_keras_model(tiny, encoder_export, tmp_path):
    _, _, tokenizer = tiny
    model, export_dir = encoder_export
    ids = python_ids(tokenizer, EDGE_TEXTS[2:5], EDGE_TEXTS[:3])

    served = serve(export_dir, "serving_ids", tmp_path, **ids)

    np.testing.assert_allclose(served["pooled_output"], model(ids)["pooled_output"], atol=PARITY_ATOL)


def test_saved_model_cli_lists_the_documented_signatures(encoder_export):
    _, export_dir = encoder_export
    cli = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")

    shown = subprocess.run([cli, "show", "--dir", export_dir, "--all"], capture_output=True, text=True, check=True)

    text = " ".join(shown.stdout.split())
    for expected in ("signature_def['serving_default']", "inputs['text_a'] tensor_info: dtype: DT_STRING shape: (-1)",
                     "inputs['text_b'] tensor_info: dtype: DT_STRING shape: (-1)", "signature_def['serving_ids']",
                     "inputs['input_word_ids'] tensor_info: dtype: DT_INT32 shape: (-1, -1)",
                     "outputs['pooled_output'] tensor_info: dtype: DT_FLOAT shape: (-1, 16)"):
        assert expected in text


def test_assets_hold_the_tokenizer_config_and_versions(encoder_export):
    _, export_dir = encoder_export

    versions = json.load(open(os.path.join(export_dir, "assets.extra", "versions.json")))

    assert sorted(os.listdir(os.path.join(export_dir, "assets"))) == ["albert_config.json", "botchan.model"]
    assert versions["tensorflow"] == tf.__version__ and versions["tensorflow_text"].startswith("2.21")


def test_a_config_of_any_file_name_becomes_the_albert_config_asset_and_no_temporary_file_stays(
        tiny, tmp_path, monkeypatch):
    config, config_file, _ = tiny
    renamed = tmp_path / "my_model.json"
    renamed.write_text(open(config_file).read())
    (tmp_path / "tmp").mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))

    export_dir = export(albert_tf.AlbertEncoder(config), renamed, tmp_path, "encoder")

    assert (sorted(os.listdir(os.path.join(export_dir, "assets"))), os.listdir(tmp_path / "tmp")) == (
        ["albert_config.json", "botchan.model"], [])


def test_warmup_requests_parse_and_run_against_the_signature(encoder_export):
    from tensorflow_serving.apis import prediction_log_pb2

    _, export_dir = encoder_export
    signature = tf.saved_model.load(export_dir).signatures["serving_default"]
    path = os.path.join(export_dir, "assets.extra", "tf_serving_warmup_requests")

    batch_sizes = []
    for record in tf.data.TFRecordDataset(path):
        request = prediction_log_pb2.PredictionLog.FromString(record.numpy()).predict_log.request
        outputs = signature(**{name: tf.constant(tf.make_ndarray(t)) for name, t in request.inputs.items()})
        batch_sizes.append(outputs["pooled_output"].shape[0])
    assert batch_sizes == [1, 8]


def test_exporting_twice_gives_identical_variables_and_an_existing_version_is_refused(tiny, tmp_path):
    config, config_file, _ = tiny
    model = albert_tf.AlbertEncoder(config)
    first = export(model, config_file, tmp_path / "a", "encoder")
    second = export(model, config_file, tmp_path / "b", "encoder")

    again = run_script("export_saved_model.py", "--task=encoder", f"--albert_config_file={config_file}",
                       f"--init_checkpoint={tmp_path / 'a' / 'encoder-ckpt'}", f"--spm_model_file={SAMPLE_MODEL}",
                       f"--export_dir={tmp_path / 'a' / 'encoder'}", expect_failure=True)

    variables = "variables/variables.data-00000-of-00001"
    assert open(os.path.join(first, variables), "rb").read() == open(os.path.join(second, variables), "rb").read()
    assert "exists; pass --overwrite" in again.stderr


def test_classifier_returns_probabilities_and_label_names(tiny, tmp_path):
    config, config_file, tokenizer = tiny
    model = albert_tf.AlbertClassifier(config, num_labels=3)
    export_dir = export(model, config_file, tmp_path, "classifier", "--task_name=mnli")
    texts_a, texts_b = [b"He ran home.", b"It rains."], [b"He moved.", b"It is dry."]

    served = serve(export_dir, "serving_default", tmp_path, text_a=texts_a, text_b=texts_b)

    probabilities = tf.nn.softmax(model(python_ids(tokenizer, texts_a, texts_b))["logits"]).numpy()
    np.testing.assert_allclose(served["probabilities"], probabilities, atol=PARITY_ATOL)
    assert [name.decode() for name in served["predicted_labels"]] == [
        ("contradiction", "entailment", "neutral")[i] for i in probabilities.argmax(-1)]


def test_pretraining_fills_each_mask_with_the_top_k_of_the_mlm_head(tiny, tmp_path):
    config, config_file, tokenizer = tiny
    model = albert_tf.AlbertPretrainer(config)
    export_dir = export(model, config_file, tmp_path, "pretraining", "--nopair_input", "--top_k=3")
    text = "The old [MASK] went to [MASK] school."

    served = serve(export_dir, "serving_default", tmp_path, text_a=[text.encode()])

    pieces = (tokenizer.tokenize("The old") + ["[MASK]"] + tokenizer.tokenize(" went to") + ["[MASK]"]
              + tokenizer.tokenize(" school."))
    ids = [tokenizer.convert_tokens_to_ids(["[CLS]"] + pieces + ["[SEP]"])]
    positions = [[i for i, token in enumerate(["[CLS]"] + pieces) if token == "[MASK]"]]
    logits = model({"input_word_ids": np.array(ids, np.int32), "masked_lm_positions": np.array(positions, np.int32)})
    expected = np.argsort(-np.asarray(logits["mlm_logits"]), axis=-1)[..., :3]
    np.testing.assert_array_equal(served["mlm_positions"], positions)
    np.testing.assert_array_equal(served["mlm_top_k_ids"], expected)


def test_squad_answer_is_the_best_context_span(tiny, tmp_path):
    config, config_file, tokenizer = tiny
    model = albert_tf.AlbertQuestionAnswerer(config)
    export_dir = export(model, config_file, tmp_path, "squad", "--max_query_length=8", "--max_answer_length=4")
    question, context = "Where does Tom ride?", "Tom rides his red bike to school every day."

    served = serve(export_dir, "serving_default", tmp_path, question=[question.encode()], context=[context.encode()])

    ids = python_ids(tokenizer, [question.encode()], [context.encode()])
    outputs = model(ids)
    start, end = np.asarray(outputs["start_logits"])[0], np.asarray(outputs["end_logits"])[0]
    offset = len(tokenizer.tokenize(question)) + 2
    context_pieces = tokenizer.tokenize(context)
    spans = [(s, e) for s in range(offset, offset + len(context_pieces))
             for e in range(s, min(s + 4, offset + len(context_pieces)))]
    best = max(spans, key=lambda span: start[span[0]] + end[span[1]])
    text = "".join(context_pieces[best[0] - offset:best[1] - offset + 1]).replace("\u2581", " ").strip()
    assert (int(served["start_index"][0]), int(served["end_index"][0])) == best
    assert served["answer"][0].decode() == text


def test_hub_format_preprocessor_and_encoder_compose_to_the_text_signature(tiny, encoder_export, tmp_path):
    config, config_file, tokenizer = tiny
    model, _ = encoder_export
    export(model, config_file, tmp_path, "encoder", "--hub_format")
    texts_a, texts_b = EDGE_TEXTS[2:4], EDGE_TEXTS[4:6]

    ids = serve(str(tmp_path / "encoder" / "preprocessor" / "1"), "serving_default", tmp_path, text_a=texts_a,
                text_b=texts_b)
    served = serve(str(tmp_path / "encoder" / "encoder" / "1"), "serving_default", tmp_path, **ids)

    expected = python_ids(tokenizer, texts_a, texts_b)
    width = ids["input_word_ids"].shape[1]
    np.testing.assert_array_equal(ids["input_word_ids"], expected["input_word_ids"][:, :width])
    np.testing.assert_allclose(served["pooled_output"], model(expected)["pooled_output"], atol=PARITY_ATOL)


def test_serve_benchmark_times_both_signatures_at_both_batch_sizes(encoder_export):
    _, export_dir = encoder_export

    result = run_script("benchmark.py", "serve", f"--export_dir={export_dir}", "--serve_requests=8")

    rows = [line.split()[:2] for line in result.stdout.splitlines() if line[:1].isdigit()]
    assert rows == [[b, s] for b in ("1", "32") for s in ("raw", "token", "strings")]


def test_squad_v2_blanks_the_answer_when_the_null_score_reaches_the_threshold(tiny, tmp_path):
    config, config_file, tokenizer = tiny
    model = albert_tf.AlbertQuestionAnswerer(config, version_2_with_negative=True, start_n_top=5, end_n_top=5)
    question, context = b"Where does Tom ride?", b"Tom rides his red bike to school every day."
    ids = python_ids(tokenizer, [question], [context])
    offset = len(tokenizer.tokenize(question.decode())) + 2
    context_pieces = tokenizer.tokenize(context.decode())
    p_mask = 1 - ((ids["input_type_ids"] == 1) & (np.arange(MAX_SEQ_LENGTH) < ids["input_mask"].sum(1, keepdims=True) - 1))
    p_mask[:, 0] = 0
    null_score = float(model({**ids, "p_mask": p_mask})["cls_logits"][0])
    below, above = (export(model, config_file, tmp_path / name, "squad", "--version_2_with_negative",
                           "--start_n_top=5", "--end_n_top=5", "--max_query_length=8",
                           f"--null_score_diff_threshold={threshold}")
                    for name, threshold in (("below", null_score - 1), ("above", null_score + 1)))

    blank, answered = (serve(path, "serving_default", tmp_path, question=[question], context=[context])
                       for path in (below, above))

    start, end = int(answered["start_index"][0]) - offset, int(answered["end_index"][0]) - offset
    span_text = "".join(context_pieces[start:end + 1]).replace("\u2581", " ").strip()
    assert blank["null_score"][0] == pytest.approx(null_score, abs=PARITY_ATOL)
    assert blank["answer"][0] == b"" and answered["answer"][0].decode() == span_text


def test_a_regressor_exports_its_scores(tiny, tmp_path):
    config, config_file, tokenizer = tiny
    model = albert_tf.AlbertClassifier(config, num_labels=1)
    export_dir = export(model, config_file, tmp_path, "classifier", "--task_name=sts-b")
    texts_a, texts_b = [b"A man sings.", b"A cat sleeps."], [b"A man plays.", b"A dog runs."]

    served = serve(export_dir, "serving_default", tmp_path, text_a=texts_a, text_b=texts_b)

    expected = np.asarray(model(python_ids(tokenizer, texts_a, texts_b))["logits"])[:, 0]
    np.testing.assert_allclose(served["scores"], expected, atol=PARITY_ATOL)
