"""SavedModel export: signatures, parity with the Keras model in a process without albert_tf,
raw-text edge cases, warmup requests, checks against the config, determinism and the version
directory.

Each kind of export is made once (`exports`) and shared; the parity checks of one task are served
from one client process."""

import importlib.metadata
import json
import os
import random
import re
import socket
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

import albert_tf
from albert_tf.checkpoint.native import save_native_checkpoint
from albert_tf.export import ExportConfig, export_saved_model
from albert_tf.export import serving as serving_lib
from albert_tf.finetuning import glue
from albert_tf.finetuning.features import encode_tokens
from tests.conftest import finished_process_id, run_script
from tests.harness import outputs_close
from tests.serving_client import serve

SAMPLE_MODEL = "tfrecords/sample/botchan.model"
MAX_SEQ_LENGTH = 48
MAX_QUERY_LENGTH, MAX_ANSWER_LENGTH, TOP_K = 8, 4, 3
# float32 in both; the graph pads to the batch's longest row instead of max_seq_length.
PARITY_ATOL = 1e-5
MNLI_LABELS = glue.get_task("mnli").labels

EDGE_TEXTS = [b"", b"   \t\n ", "Caf\u00e9 na\u00efve \u00dcber, 3,000.50!".encode(), "\u041f\u0440\u0438\u0432\u0435\u0442 "
              "\u043c\u0438\u0440".encode(), "\u6771\u4eac\u306f\u5927\u304d\u3044\u3002".encode(),
              b"invalid \xff\xfe utf-8", ("a very long sentence " * 60).encode()]
# The edge texts with [MASK]s at the start, at the end and side by side, none in rows 1 and 4, and the
# long row's mask cut off by truncation.
MASKED_TEXTS = [text if i % 3 == 1 else b"[MASK] " * (i % 3) + text + b" [MASK]" for i, text in enumerate(EDGE_TEXTS)]

# name: (model, --task, flags); "-hub" ones are --hub_format pairs.
EXPORTS = {
    "encoder": (lambda c: albert_tf.AlbertEncoder(c), "encoder", ()),
    "classifier": (lambda c: albert_tf.AlbertClassifier(c, num_labels=3), "classifier", ("--task_name=mnli",)),
    "regressor": (lambda c: albert_tf.AlbertClassifier(c, num_labels=1), "classifier", ("--task_name=sts-b",)),
    "pretraining": (lambda c: albert_tf.AlbertPretrainer(c), "pretraining", (f"--top_k={TOP_K}",)),
    "squad": (lambda c: albert_tf.AlbertQuestionAnswerer(c), "squad",
              (f"--max_query_length={MAX_QUERY_LENGTH}", f"--max_answer_length={MAX_ANSWER_LENGTH}")),
}
EXPORTS.update({f"{name}-hub": (*EXPORTS[name][:2], (*EXPORTS[name][2], "--hub_format"))
                for name in ("encoder", "pretraining", "squad")})


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A small config with the sample tokenizer's vocabulary, its JSON, and a tokenizer."""
    directory = tmp_path_factory.mktemp("tiny")
    config = albert_tf.AlbertConfig(vocab_size=4000, embedding_size=8, hidden_size=16, num_hidden_layers=2,
                                    num_attention_heads=2, intermediate_size=32, max_position_embeddings=64)
    config_file = directory / "albert_config.json"
    config_file.write_text(json.dumps(config.to_dict()))
    return config, str(config_file), albert_tf.FullTokenizer(SAMPLE_MODEL)


def run_export(model, config_file, directory, task, *flags, expect_failure=False):
    """run/export_saved_model.py on a checkpoint of `model`, to `directory/task`; the finished process."""
    checkpoint = save_native_checkpoint(model, str(directory / f"{task}-ckpt"))
    return run_script("export_saved_model.py", f"--task={task}", f"--albert_config_file={config_file}",
                      f"--init_checkpoint={checkpoint}", f"--spm_model_file={SAMPLE_MODEL}",
                      f"--export_dir={directory / task}", f"--max_seq_length={MAX_SEQ_LENGTH}", *flags,
                      expect_failure=expect_failure)


def export(model, config_file, directory, task, *flags):
    run_export(model, config_file, directory, task, *flags)
    return str(directory / task / "1")


@pytest.fixture(scope="module")
def exports(tiny, tmp_path_factory):
    """name of `EXPORTS` → (model, its version directory; for "-hub", the preprocessor's and the
    encoder's), each exported on first use and shared by the module's tests."""
    config, config_file, _ = tiny
    made = {}

    def get(name):
        if name not in made:
            build, task, flags = EXPORTS[name]
            random.seed(0)  # as conftest's seeded_weights: the same model whichever test asks first
            model = build(config)
            version_dir = export(model, config_file, tmp_path_factory.mktemp(name), task, *flags)
            root = os.path.dirname(version_dir)
            made[name] = model, ((os.path.join(root, "preprocessor", "1"), os.path.join(root, "encoder", "1"))
                                 if "--hub_format" in flags else version_dir)
        return made[name]
    return get


# --- what each task should return, from the Keras model and the Python tokenizer --------------

def task(name):
    """The --task of an `EXPORTS` name (a regressor is a classifier)."""
    return EXPORTS[name][1]


def edge_inputs(name, batch):
    """The text inputs of a task's serving_default: row i pairs edge text i with edge text -1-i."""
    texts = MASKED_TEXTS if task(name) == "pretraining" else EDGE_TEXTS
    first, second = ("question", "context") if task(name) == "squad" else ("text_a", "text_b")
    return {first: texts[:batch], second: texts[::-1][:batch]}


def masked_pieces(tokenizer, text):
    """Pieces of a text in which "[MASK]" stands for the mask token."""
    first, *rest = text.split("[MASK]")
    pieces = tokenizer.tokenize(first)
    for part in rest:
        pieces += ["[MASK]"] + tokenizer.tokenize(part)
    return pieces


def python_tokens(name, tokenizer, first, second):
    """Pieces of one row's two texts, as the task's serving_default reads them."""
    if task(name) == "pretraining":
        return masked_pieces(tokenizer, first), masked_pieces(tokenizer, second)
    if task(name) == "squad":  # one window: the question cut, then as much context as fits
        question = tokenizer.tokenize(first)[:MAX_QUERY_LENGTH]
        return question, tokenizer.tokenize(second)[:MAX_SEQ_LENGTH - 3 - len(question)]
    return tokenizer.tokenize(first), tokenizer.tokenize(second)


def python_ids(name, tokenizer, texts):
    """The ids fine-tuning's encoding gives `texts` (invalid UTF-8 replaced by U+FFFD, as the export
    documents), padded to MAX_SEQ_LENGTH."""
    rows = zip(*[[text.decode("utf-8", errors="replace") for text in column] for column in texts.values()])
    encoded = [encode_tokens(tokenizer, *python_tokens(name, tokenizer, *row), MAX_SEQ_LENGTH) for row in rows]
    return {key: np.array([getattr(e, key) for e in encoded], np.int32)
            for key in ("input_word_ids", "input_mask", "input_type_ids")}


def trimmed(ids):
    """`ids` padded only to their longest row, as the raw-string signature and the preprocessor pad."""
    width = ids["input_mask"].sum(axis=1).max()
    return {key: value[:, :width] for key, value in ids.items()}


def softmax(logits):
    e = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def encoder_outputs(model, tokenizer, ids, texts):
    outputs = model(ids)
    return {name: np.asarray(outputs[name]) for name in ("pooled_output", "sequence_output")}


def classifier_outputs(model, tokenizer, ids, texts):
    probabilities = softmax(np.asarray(model(ids)["logits"]))
    names = np.array([name.encode() for name in MNLI_LABELS], object)
    return {"probabilities": probabilities, "predictions": probabilities.argmax(-1),
            "predicted_labels": names[probabilities.argmax(-1)],
            "label_names": np.tile(names, (len(probabilities), 1))}


def regressor_outputs(model, tokenizer, ids, texts):
    return {"scores": np.asarray(model(ids)["logits"])[:, 0]}


def pretraining_outputs(model, tokenizer, ids, texts):
    mask_id = tokenizer.convert_tokens_to_ids(["[MASK]"])[0]
    rows = [np.flatnonzero((word_ids == mask_id) & (mask == 1)) for word_ids, mask in zip(ids["input_word_ids"],
                                                                                       ids["input_mask"])]
    positions = np.full((len(rows), max(1, *map(len, rows))), -1, np.int32)
    for i, row in enumerate(rows):
        positions[i, :len(row)] = row
    outputs = model({**ids, "masked_lm_positions": np.maximum(positions, 0)})
    probabilities = softmax(np.asarray(outputs["mlm_logits"]))
    top_ids = np.argsort(-probabilities, axis=-1)[..., :TOP_K]
    tokens = np.array([p.encode() for p in tokenizer.convert_ids_to_tokens(top_ids.ravel())], object)
    valid = (positions >= 0)[..., None]
    return {"mlm_positions": positions, "mlm_top_k_ids": np.where(valid, top_ids, -1),
            "mlm_top_k_tokens": np.where(valid, tokens.reshape(top_ids.shape), b""),
            "mlm_top_k_probabilities": np.where(valid, np.take_along_axis(probabilities, top_ids, -1), 0.0),
            "sop_probabilities": softmax(np.asarray(outputs["sop_logits"]))}


def squad_outputs(model, tokenizer, ids, texts):
    """The best span (start + end logit) of at most MAX_ANSWER_LENGTH context tokens, (0, 0, 0.0)
    where there is none; with `texts`, also its text from the context's pieces."""
    outputs = model(ids)
    start_logits, end_logits = np.asarray(outputs["start_logits"]), np.asarray(outputs["end_logits"])
    result = {"start_index": [], "end_index": [], "score": [], "answer": []}
    for i, (type_ids, length) in enumerate(zip(ids["input_type_ids"], ids["input_mask"].sum(axis=1))):
        context = [t for t in range(length - 1) if type_ids[t] == 1]
        spans = [(s, e) for s in context for e in context if s <= e < s + MAX_ANSWER_LENGTH]
        start, end = max(spans, key=lambda span: start_logits[i, span[0]] + end_logits[i, span[1]], default=(0, 0))
        result["start_index"].append(start)
        result["end_index"].append(end)
        result["score"].append(start_logits[i, start] + end_logits[i, end] if spans else 0.0)
        if texts:
            pieces = tokenizer.tokenize(texts["context"][i].decode("utf-8", errors="replace"))
            span = pieces[start - context[0]:end - context[0] + 1] if spans else []
            result["answer"].append("".join(span).replace("\u2581", " ").strip().encode())
    if not texts:
        del result["answer"]
    return {name: np.array(values, object if name == "answer" else None) for name, values in result.items()}


KERAS_OUTPUTS = {"encoder": encoder_outputs, "classifier": classifier_outputs, "regressor": regressor_outputs,
                 "pretraining": pretraining_outputs, "squad": squad_outputs}


def keras_outputs(name, model, tokenizer, ids, texts=None):
    """What an export's signatures should return for `ids`; `texts`, for outputs read from the text."""
    return KERAS_OUTPUTS[name](model, tokenizer, ids, texts)


def assert_outputs_match(served, expected):
    """The same output names; strings equal, numbers within PARITY_ATOL (so integers equal)."""
    strings = [name for name, value in expected.items() if value.dtype == object]
    assert sorted(served) == sorted(expected)
    for name in strings:
        np.testing.assert_array_equal(served[name], expected[name], err_msg=name)
    outputs_close({k: v for k, v in served.items() if k not in strings},
                  {k: v for k, v in expected.items() if k not in strings}, atol=PARITY_ATOL)


# --- parity: both signatures of every task against the Keras model ----------------------------

TASK_EXPORTS = ["encoder", "classifier", "regressor", "pretraining", "squad"]
PARITY_CASES = [(name, signature, batch) for name in TASK_EXPORTS for signature in ("serving_default", "serving_ids")
                for batch in (1, 7)]


@pytest.fixture(scope="module")
def parity(exports, tiny, tmp_path_factory):
    """(export, signature, batch) → (what the export served, what its Keras model gives) on the edge
    texts: serving_default on the texts, serving_ids on the Python tokenizer's ids for them. All
    served from one client process."""
    _, _, tokenizer = tiny
    calls, expected = [], []
    for name, signature, batch in PARITY_CASES:
        model, export_dir = exports(name)
        texts = edge_inputs(name, batch)
        ids = python_ids(name, tokenizer, texts)
        if signature == "serving_default":
            calls.append((export_dir, signature, texts))
            expected.append(keras_outputs(name, model, tokenizer, trimmed(ids), texts))
        else:
            calls.append((export_dir, signature, ids))
            expected.append(keras_outputs(name, model, tokenizer, ids))
    served = serve(calls, tmp_path_factory.mktemp("served"))
    return dict(zip(PARITY_CASES, zip(served, expected)))


@pytest.mark.parametrize("name, signature, batch", PARITY_CASES)
def test_each_signature_gives_every_output_of_the_keras_model_on_edge_texts(parity, name, signature, batch):
    served, expected = parity[name, signature, batch]

    assert_outputs_match(served, expected)


# --- signatures as saved_model_cli shows them --------------------------------------------------

def tensor(dtype, *shape):
    return f"DT_{dtype}", "(" + ", ".join(map(str, shape)) + ")"


IDS_INPUTS = {name: tensor("INT32", -1, -1) for name in ("input_word_ids", "input_mask", "input_type_ids")}
TEXT_INPUTS = {name: tensor("STRING", -1) for name in ("text_a", "text_b")}
SQUAD_OUTPUTS = {"start_index": tensor("INT32", -1), "end_index": tensor("INT32", -1), "score": tensor("FLOAT", -1)}
# README "Serving": for each export, its signatures' (inputs, outputs): name → (dtype, shape); H = 16.
DOCUMENTED_SIGNATURES = {
    "encoder": (TEXT_INPUTS, {"pooled_output": tensor("FLOAT", -1, 16),
                              "sequence_output": tensor("FLOAT", -1, -1, 16)}),
    "classifier": (TEXT_INPUTS, {"probabilities": tensor("FLOAT", -1, 3), "predictions": tensor("INT32", -1),
                                 "predicted_labels": tensor("STRING", -1), "label_names": tensor("STRING", -1, 3)}),
    "regressor": (TEXT_INPUTS, {"scores": tensor("FLOAT", -1)}),
    "pretraining": (TEXT_INPUTS, {"mlm_positions": tensor("INT32", -1, -1),
                                  "mlm_top_k_tokens": tensor("STRING", -1, -1, TOP_K),
                                  "mlm_top_k_ids": tensor("INT32", -1, -1, TOP_K),
                                  "mlm_top_k_probabilities": tensor("FLOAT", -1, -1, TOP_K),
                                  "sop_probabilities": tensor("FLOAT", -1, 2)}),
    "squad": ({"question": tensor("STRING", -1), "context": tensor("STRING", -1)},
              {**SQUAD_OUTPUTS, "answer": tensor("STRING", -1)}),
}


def documented_signatures(name):
    """{signature: {(inputs|outputs, name): (dtype, shape)}}. serving_ids has serving_default's
    outputs, except squad's answer (it has no text to read one from)."""
    inputs, outputs = DOCUMENTED_SIGNATURES[name]
    ids_outputs = SQUAD_OUTPUTS if name == "squad" else outputs
    listed = lambda ins, outs: {**{("inputs", k): v for k, v in ins.items()},
                                **{("outputs", k): v for k, v in outs.items()}}
    return {"serving_default": listed(inputs, outputs), "serving_ids": listed(IDS_INPUTS, ids_outputs)}


def shown_signatures(export_dir):
    """What `saved_model_cli show --all` lists, in the form of `documented_signatures`."""
    cli = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
    shown = subprocess.run([cli, "show", "--dir", export_dir, "--all"], capture_output=True, text=True, check=True)
    signatures = {}
    for section in shown.stdout.split("signature_def['")[1:]:
        signature = section.split("'", 1)[0]
        if signature != "__saved_model_init_op":
            signatures[signature] = {(kind, name): (dtype, shape) for kind, name, dtype, shape in re.findall(
                r"(inputs|outputs)\['(\w+)'\] tensor_info:\s+dtype: (\w+)\s+shape: (\([^)]*\))", section)}
    return signatures


@pytest.mark.parametrize("name", TASK_EXPORTS)
def test_saved_model_cli_lists_the_documented_signatures(name, exports):
    _, export_dir = exports(name)

    shown = shown_signatures(export_dir)

    assert shown == documented_signatures(name)


@pytest.mark.parametrize("task_name, flags, expected_inputs", [
    ("sst-2", (), ["text_a"]), ("mrpc", (), ["text_a", "text_b"]), ("sst-2", ("--pair_input",), ["text_a", "text_b"])])
def test_a_single_sentence_glue_task_exports_one_text_input_unless_asked(task_name, flags, expected_inputs, tiny,
                                                                         tmp_path):
    config, config_file, _ = tiny
    version_dir = export(albert_tf.AlbertClassifier(config, num_labels=2), config_file, tmp_path, "classifier",
                         f"--task_name={task_name}", *flags)

    signature = tf.saved_model.load(version_dir).signatures["serving_default"]

    assert sorted(signature.structured_input_signature[1]) == expected_inputs


def test_call_export_prints_what_the_signature_returns(exports, tmp_path):
    _, export_dir = exports("classifier")
    texts = {"text_a": [b"I did not go.", b"He went home."], "text_b": [b"", b"Why?"]}

    printed = run_script("call_export.py", f"--export_dir={export_dir}",
                         *(f"--{name}={text.decode()}" for name in texts for text in texts[name]))

    served = serve([(export_dir, "serving_default", texts)], tmp_path)[0]
    outputs = json.loads(printed.stdout)
    assert outputs["predicted_labels"] == [label.decode() for label in served["predicted_labels"]]
    np.testing.assert_allclose(outputs["probabilities"], served["probabilities"], atol=1e-6)


# --- assets and warmup requests ----------------------------------------------------------------

def test_assets_hold_the_tokenizer_config_and_versions(exports):
    _, export_dir = exports("encoder")

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


@pytest.mark.parametrize("name", ["encoder", "squad", pytest.param("pretraining-hub", marks=pytest.mark.slow)])
def test_warmup_requests_parse_and_run_against_the_signature(name, exports):
    """Every servable gets warmup requests; the hub-format encoder's are ids."""
    from tensorflow_serving.apis import prediction_log_pb2

    _, export_dirs = exports(name)
    batch_sizes = []
    for export_dir in [export_dirs] if isinstance(export_dirs, str) else export_dirs:
        signature = tf.saved_model.load(export_dir).signatures["serving_default"]
        path = os.path.join(export_dir, "assets.extra", "tf_serving_warmup_requests")

        for record in tf.data.TFRecordDataset(path):
            request = prediction_log_pb2.PredictionLog.FromString(record.numpy()).predict_log.request
            outputs = signature(**{key: tf.constant(tf.make_ndarray(t)) for key, t in request.inputs.items()})
            batch_sizes.append(next(iter(outputs.values())).shape[0])

    assert batch_sizes == [1, 8] * (2 if name.endswith("-hub") else 1)


# --- the hub format ----------------------------------------------------------------------------

@pytest.mark.parametrize("name", [pytest.param("encoder", marks=pytest.mark.slow), "pretraining", "squad"])
def test_hub_format_preprocessor_gives_python_ids_and_the_encoder_the_keras_outputs(name, tiny, exports, tmp_path):
    """The preprocessor reads text as the task's serving_default does ([MASK] for pretraining, the
    question cut to max_query_length for squad); the encoder is serving_ids."""
    _, _, tokenizer = tiny
    model, (preprocessor, encoder) = exports(f"{name}-hub")
    texts = edge_inputs(name, 7)

    ids, served = serve([(preprocessor, "serving_default", texts), (encoder, "serving_default", 0)], tmp_path)

    expected_ids = trimmed(python_ids(name, tokenizer, texts))
    assert_outputs_match({**ids, **served}, {**expected_ids, **keras_outputs(name, model, tokenizer, expected_ids)})


def test_the_plain_install_brings_what_an_export_imports():
    """`pip install albert_tf`, no extras: the README's quickstart install must be enough to export."""
    plain = {re.split(r"[=<>!~ ;\[]", requirement)[0].lower() for requirement in importlib.metadata.requires("albert_tf")
             if "extra ==" not in requirement}

    assert {"tensorflow", "tensorflow-text", "tensorflow-serving-api"} <= plain


# --- checks against the config -----------------------------------------------------------------

def test_max_seq_length_beyond_the_position_embeddings_is_refused(tiny, tmp_path):
    config, _, _ = tiny

    with pytest.raises(ValueError, match=r"max_seq_length \(--max_seq_length\) = 65 exceeds "
                                         r"max_position_embeddings = 64 of the model's config"):
        export_saved_model(albert_tf.AlbertEncoder(config), ExportConfig("encoder", max_seq_length=65),
                           SAMPLE_MODEL, str(tmp_path))


def test_a_sentencepiece_model_larger_than_vocab_size_is_refused(tiny, tmp_path):
    config, _, _ = tiny
    small = albert_tf.AlbertConfig.from_dict({**config.to_dict(), "vocab_size": 3000})

    with pytest.raises(ValueError, match=r"\(--spm_model_file\) has 4000 pieces, more than vocab_size = 3000"):
        export_saved_model(albert_tf.AlbertEncoder(small), ExportConfig("encoder", max_seq_length=MAX_SEQ_LENGTH),
                           SAMPLE_MODEL, str(tmp_path))


def test_the_script_reports_a_setting_the_model_cannot_run_as_a_usage_error(tiny, tmp_path):
    config, config_file, _ = tiny

    result = run_export(albert_tf.AlbertEncoder(config), config_file, tmp_path, "encoder", "--max_seq_length=100",
                        expect_failure=True)

    message = "--max_seq_length=100 exceeds the model's max_position_embeddings=64"
    assert (message in result.stderr, "Traceback" in result.stderr) == (True, False)


# --- determinism and the version directory -----------------------------------------------------

@pytest.mark.slow
def test_exporting_twice_gives_identical_variables_and_an_existing_version_is_refused(tiny, tmp_path):
    config, config_file, _ = tiny
    model = albert_tf.AlbertEncoder(config)
    first = export(model, config_file, tmp_path / "a", "encoder")
    second = export(model, config_file, tmp_path / "b", "encoder")

    again = run_export(model, config_file, tmp_path / "a", "encoder", expect_failure=True)

    variables = "variables/variables.data-00000-of-00001"
    assert open(os.path.join(first, variables), "rb").read() == open(os.path.join(second, variables), "rb").read()
    assert "exists; pass --overwrite" in again.stderr


def old_version(directory):
    """An existing version 1 under `directory/encoder`, marked to tell whether it survives."""
    version_dir = directory / "encoder" / "1"
    version_dir.mkdir(parents=True)
    (version_dir / "old").write_text("the old export")
    return version_dir


def test_overwrite_replaces_an_existing_version(tiny, tmp_path):
    config, config_file, _ = tiny
    version_dir = old_version(tmp_path)

    export(albert_tf.AlbertEncoder(config), config_file, tmp_path, "encoder", "--overwrite")

    assert (os.listdir(tmp_path / "encoder"), "old" in os.listdir(version_dir),
            (version_dir / "saved_model.pb").exists()) == (["1"], False, True)


def test_a_failed_overwrite_leaves_the_old_version_and_nothing_else(tiny, tmp_path, monkeypatch):
    config, _, _ = tiny
    version_dir = old_version(tmp_path)

    def disk_full(*args):
        raise OSError("disk full")
    monkeypatch.setattr(serving_lib, "write_warmup_requests", disk_full)  # after the SavedModel is written
    with pytest.raises(OSError, match="disk full"):
        export_saved_model(albert_tf.AlbertEncoder(config), ExportConfig("encoder", max_seq_length=MAX_SEQ_LENGTH),
                           SAMPLE_MODEL, str(tmp_path / "encoder"), overwrite=True)

    assert (os.listdir(tmp_path / "encoder"), os.listdir(version_dir)) == (["1"], ["old"])


# --- benchmark and squad v2.0 ------------------------------------------------------------------

def test_serve_benchmark_times_both_signatures_at_both_batch_sizes(exports):
    _, export_dir = exports("encoder")

    result = run_script("benchmark.py", "serve", f"--export_dir={export_dir}", "--serve_requests=8")

    rows = [line.split()[:2] for line in result.stdout.splitlines() if line[:1].isdigit()]
    assert rows == [[b, s] for b in ("1", "32") for s in ("raw", "token", "strings")]


def bfloat16_classifier_export(exports, tiny, directory):
    """The "classifier" export's model exported again with --serving_dtype=bfloat16."""
    model, float32_dir = exports("classifier")
    return float32_dir, export(model, tiny[1], directory, "classifier", "--task_name=mnli", "--serving_dtype=bfloat16")


def test_a_bfloat16_export_answers_with_float32_outputs_close_to_the_float32_exports(exports, tiny, tmp_path):
    import tensorflow_text  # noqa: F401  (the export's SentencePiece ops)

    float32_dir, bfloat16_dir = bfloat16_classifier_export(exports, tiny, tmp_path)
    texts = {"text_a": tf.constant(["The cat sat on the mat.", "It was not raining at all today."]),
             "text_b": tf.constant(["A dog barked.", ""])}

    float32, bfloat16 = (tf.saved_model.load(d).signatures["serving_default"](**texts) for d in (float32_dir, bfloat16_dir))

    assert {k: v.dtype for k, v in bfloat16.items()} == {k: v.dtype for k, v in float32.items()}
    # bfloat16 keeps 8 bits of mantissa: on this small random model, probabilities move by < 1e-2.
    np.testing.assert_allclose(bfloat16["probabilities"], float32["probabilities"], atol=1e-2)
    with open(os.path.join(bfloat16_dir, "assets.extra", "export_config.json")) as f:
        assert json.load(f)["dtype_policy"] == "mixed_bfloat16"


def test_serve_benchmark_compares_two_exports_speed_and_answers(exports, tiny, tmp_path):
    float32_dir, bfloat16_dir = bfloat16_classifier_export(exports, tiny, tmp_path)
    dev_file = tmp_path / "dev.tsv"
    dev_file.write_text("sentence\tlabel\nit was fine .\t1\nnot good at all .\t0\n")

    result = run_script("benchmark.py", "serve", f"--export_dir={float32_dir}", "--serve_requests=8",
                        f"--compare_export_dir={bfloat16_dir}", f"--dev_file={dev_file}")

    speedups = [line.split()[0] for line in result.stdout.splitlines() if "compare vs export_dir" in line]
    assert speedups == ["1", "32"] and "(2 sentences): largest probability difference" in result.stdout


@pytest.mark.slow
def test_squad_v2_blanks_the_answer_when_the_null_score_reaches_the_threshold(tiny, tmp_path):
    config, config_file, tokenizer = tiny
    model = albert_tf.AlbertQuestionAnswerer(config, version_2_with_negative=True, start_n_top=5, end_n_top=5)
    question, context = b"Where does Tom ride?", b"Tom rides his red bike to school every day."
    ids = python_ids("squad", tokenizer, {"question": [question], "context": [context]})
    offset = len(tokenizer.tokenize(question.decode())) + 2
    context_pieces = tokenizer.tokenize(context.decode())
    p_mask = 1 - ((ids["input_type_ids"] == 1) & (np.arange(MAX_SEQ_LENGTH) < ids["input_mask"].sum(1, keepdims=True) - 1))
    p_mask[:, 0] = 0
    null_score = float(model({**ids, "p_mask": p_mask})["cls_logits"][0])
    below, above = (export(model, config_file, tmp_path / name, "squad", "--version_2_with_negative",
                           "--start_n_top=5", "--end_n_top=5", "--max_query_length=8",
                           f"--null_score_diff_threshold={threshold}")
                    for name, threshold in (("below", null_score - 1), ("above", null_score + 1)))

    blank, answered = serve([(path, "serving_default", {"question": [question], "context": [context]})
                             for path in (below, above)], tmp_path)

    start, end = int(answered["start_index"][0]) - offset, int(answered["end_index"][0]) - offset
    span_text = "".join(context_pieces[start:end + 1]).replace("\u2581", " ").strip()
    assert blank["null_score"][0] == pytest.approx(null_score, abs=PARITY_ATOL)
    assert blank["answer"][0] == b"" and answered["answer"][0].decode() == span_text


# --- empty batches, killed and concurrent exports ----------------------------------------------

@pytest.mark.parametrize("name", ["encoder", "classifier", "pretraining", "squad"])
def test_a_batch_of_no_strings_gets_empty_outputs(name, exports):
    import tensorflow_text  # noqa: F401  (the export's tokenizer ops)

    _, export_dir = exports(name)
    serving_default = tf.saved_model.load(export_dir).signatures["serving_default"]
    no_strings = {spec: tf.constant([], tf.string) for spec in serving_default.structured_input_signature[1]}

    outputs = serving_default(**no_strings)

    assert {key: value.shape[0] for key, value in outputs.items()} == {key: 0 for key in outputs}


def test_an_export_that_finds_its_version_taken_when_done_keeps_the_other_and_fails(tiny, tmp_path, monkeypatch):
    config, _, _ = tiny
    write_warmup_requests = serving_lib.write_warmup_requests

    def another_export_finishes_first(*args):
        old_version(tmp_path)
        write_warmup_requests(*args)
    monkeypatch.setattr(serving_lib, "write_warmup_requests", another_export_finishes_first)
    with pytest.raises(FileExistsError, match="appeared while this was being written"):
        export_saved_model(albert_tf.AlbertEncoder(config), ExportConfig("encoder", max_seq_length=MAX_SEQ_LENGTH),
                           SAMPLE_MODEL, str(tmp_path / "encoder"))

    assert (os.listdir(tmp_path / "encoder"), os.listdir(tmp_path / "encoder" / "1")) == (["1"], ["old"])


def test_the_next_export_removes_what_a_killed_export_left_but_not_a_running_ones(tiny, tmp_path):
    config, _, _ = tiny
    host, token = socket.gethostname(), "0" * 32
    killed = tmp_path / "encoder" / f".1.incomplete-{host}-{finished_process_id()}-{token}"
    running = tmp_path / "encoder" / f".1.incomplete-{host}-{os.getpid()}-{token}"
    killed.mkdir(parents=True)
    running.mkdir()

    export_saved_model(albert_tf.AlbertEncoder(config), ExportConfig("encoder", max_seq_length=MAX_SEQ_LENGTH),
                       SAMPLE_MODEL, str(tmp_path / "encoder"))

    assert sorted(os.listdir(tmp_path / "encoder")) == sorted(["1", running.name])
