"""ALBERT as one LiteRT (TFLite) flatbuffer, for phones and edge devices.

`export_litert` converts the model with TensorFlow's own converter, to TFLite builtin ops only,
so the file runs in the LiteRT interpreter (`ai-edge-litert`) with no Select TF ops and no custom
ops. Its one signature, `serving_default`, takes token ids: `input_word_ids`, `input_mask` and
`input_type_ids`, int32 [B, max_seq_length] (the length fixed, as in the original's
`albert_model.tflite`, the batch resizable); pretraining also takes `masked_lm_positions`, int32
[B, max_predictions_per_seq]. It returns per task:

  encoder      pooled_output [B, H], sequence_output [B, T, H]
  classifier   probabilities [B, L], predictions [B]; a regressor (one logit) scores [B]
  pretraining  mlm_top_k_ids, mlm_top_k_probabilities [B, P, top_k], sop_probabilities [B, 2]
  squad        start_index, end_index, score [B] (the best span, as the SavedModel's
               `serving_ids`); v1.1 also start_logits, end_logits [B, T] (the original's
               outputs, for n-best decoding); v2.0 also null_score [B]

Raw strings are not taken: the tokenizer's normalization (NFKD, whitespace and accent rules,
lowercasing) needs TensorFlow string ops that LiteRT has only through Select TF ops, which the
`ai-edge-litert` runtime does not ship (README "On-device").

Quantization (`LiteRTConfig.quantization`): "none" keeps float32 weights; "float16" stores
weights as float16 (computed in float32); "dynamic_int8" stores weights as int8 and quantizes
activations per batch where kernels allow. Neither needs calibration data.
"""

import dataclasses
import os
import tempfile

import keras
import tensorflow as tf

from albert_tf.constants import EXPORT_TASKS, LITERT_QUANTIZATIONS
from albert_tf.export.serving import ExportConfigError, best_span, check_max_seq_length
from albert_tf.staging import written_aside

TASKS = EXPORT_TASKS
QUANTIZATIONS = LITERT_QUANTIZATIONS
IDS = ("input_word_ids", "input_mask", "input_type_ids")


@dataclasses.dataclass(frozen=True)
class LiteRTConfig:
    task: str
    max_seq_length: int = 512
    quantization: str = "none"
    top_k: int = 5  # pretraining
    max_predictions_per_seq: int = 20  # pretraining
    max_answer_length: int = 30  # squad


def check_config(config, albert_config):
    """Refuses, before any work, settings that cannot make a working file (an `ExportConfigError`)."""
    if config.task not in TASKS:
        raise ExportConfigError(f"task (--task) must be one of {', '.join(TASKS)}, got {config.task!r}")
    if config.quantization not in QUANTIZATIONS:
        raise ExportConfigError(f"quantization (--quantization) must be one of {', '.join(QUANTIZATIONS)}, "
                                f"got {config.quantization!r}")
    check_max_seq_length(config.max_seq_length, albert_config)
    if config.task == "pretraining" and config.top_k > albert_config.vocab_size:
        raise ExportConfigError(f"top_k (--top_k) = {config.top_k} exceeds vocab_size = {albert_config.vocab_size}")


def input_signature(config):
    specs = {name: tf.TensorSpec([None, config.max_seq_length], tf.int32, name=name) for name in IDS}
    if config.task == "pretraining":
        specs["masked_lm_positions"] = tf.TensorSpec([None, config.max_predictions_per_seq], tf.int32,
                                                     name="masked_lm_positions")
    return [specs]


def task_outputs(model, config):
    """The function from the signature's inputs to the task's outputs."""

    def encoder(inputs):
        outputs = model(inputs, training=False)
        return {"pooled_output": outputs["pooled_output"], "sequence_output": outputs["sequence_output"]}

    def classifier(inputs):
        logits = model(inputs, training=False)["logits"]
        if model.num_labels == 1:
            return {"scores": logits[:, 0]}
        return {"probabilities": tf.nn.softmax(logits),
                "predictions": tf.argmax(logits, axis=-1, output_type=tf.int32)}

    def pretraining(inputs):
        outputs = model(inputs, training=False)
        probabilities, ids = tf.math.top_k(tf.nn.softmax(outputs["mlm_logits"]), k=config.top_k)
        return {"mlm_top_k_ids": ids, "mlm_top_k_probabilities": probabilities,
                "sop_probabilities": tf.nn.softmax(outputs["sop_logits"])}

    def squad(inputs):
        version_2 = bool(model.version_2_with_negative)
        result, _, _, outputs = best_span(model, inputs, config.max_answer_length, version_2)
        if not version_2:
            result.update(start_logits=outputs["start_logits"], end_logits=outputs["end_logits"])
        return result

    return {"encoder": encoder, "classifier": classifier, "pretraining": pretraining, "squad": squad}[config.task]


def _converter(saved_model_dir, quantization):
    converter = tf.lite.TFLiteConverter.from_saved_model(saved_model_dir)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if quantization != "none":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantization == "float16":
        converter.target_spec.supported_types = [tf.float16]
    return converter


def export_litert(model, config, output_file):
    """Writes the model as a `.tflite` file at `output_file` (replacing one there only once the new
    file is complete) and returns `output_file`.

    Raises `ExportConfigError` (a ValueError) for an unknown task or quantization, or a
    `max_seq_length` past the model's `max_position_embeddings`.
    """
    check_config(config, model.config)
    # Through a Keras export archive: a tf.Module holding the Keras 3 model would reach the converter
    # with its variables as uninitialized resources (the file runs, and returns garbage).
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint("serving_default", task_outputs(model, config), input_signature=input_signature(config))
    with tempfile.TemporaryDirectory(prefix="albert_litert_") as saved_model_dir:
        archive.write_out(saved_model_dir, verbose=False)
        flatbuffer = _converter(saved_model_dir, config.quantization).convert()
    directory = os.path.dirname(output_file)
    if directory:
        tf.io.gfile.makedirs(directory)
    with written_aside(output_file) as staging:
        with tf.io.gfile.GFile(staging, "wb") as f:
            f.write(flatbuffer)
    return output_file
