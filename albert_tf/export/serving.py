"""A fine-tuned or pretrained ALBERT as a SavedModel that TF Serving loads as it is.

`export_saved_model` writes `<export_dir>/<version>/` with two signatures of the same model:
`serving_default` takes raw strings and tokenizes them in the graph (tensorflow-text ops, the
Python tokenizer's exact ids), `serving_ids` takes `input_word_ids`, `input_mask` and
`input_type_ids`. Loading needs only tensorflow and tensorflow_text: the model is traced into
the graph, the SentencePiece model is a constant of the tokenizer op and an asset beside
`albert_config.json`, and `assets.extra/` holds TF Serving's warmup requests, the versions the
export was made with (`versions.json`) and its settings (`export_config.json`). An export is
written beside the version directory and moved into place only once complete, so a failed export
(or one that replaces a version) never leaves a partial or missing version for TF Serving to load.

Per task (`ExportConfig.task`):
  encoder      text_a (+ text_b) → pooled_output [B, H], sequence_output [B, T, H]
  pretraining  text_a (+ text_b), "[MASK]" marking masked tokens → for each [MASK], the top_k
               fill-ins (mlm_top_k_tokens, mlm_top_k_ids, mlm_top_k_probabilities [B, P, K],
               mlm_positions [B, P], -1 where a row has fewer masks) and sop_probabilities [B, 2]
  classifier   text_a (+ text_b) → probabilities [B, L], predictions [B] (index),
               predicted_labels [B], label_names [B, L]; a regressor gives scores [B]
  squad        question, context → answer [B] (the best span's text, as the tokenizer normalized
               it: lowercased, accents stripped), start_index / end_index [B] (window positions),
               score [B]; v2.0 also null_score [B] (answer "" when it reaches the threshold)
"""

import dataclasses
import importlib.metadata
import json
import os
import tempfile

import tensorflow as tf
from absl import logging

from albert_tf.constants import EXPORT_TASKS
from albert_tf.export import packing
from albert_tf.export.warmup import write_warmup_requests
from albert_tf.staging import discard, leftovers, publish, staging_path
from albert_tf.text import FullTokenizer, InGraphTokenizer

TASKS = EXPORT_TASKS
WARMUP_BATCH_SIZES = (1, 8)


class ExportConfigError(ValueError):
    """Export settings that do not fit the model or its tokenizer (run/ reports it as a usage error)."""


@dataclasses.dataclass(frozen=True)
class ExportConfig:
    task: str
    max_seq_length: int = 512
    do_lower_case: bool = True
    pair_input: bool = True  # text tasks: also take text_b
    label_names: tuple = ()  # classifier: one name per logit ("" for a regressor)
    top_k: int = 5  # pretraining
    max_query_length: int = 64  # squad
    max_answer_length: int = 30  # squad
    null_score_diff_threshold: float = 0.0  # squad v2.0
    # classifier: also output this constant as `threshold` [B] (the original's --threshold_to_export),
    # so a client reads the decision threshold tuned for the model from the model itself.
    threshold: float = None


def _ids_spec():
    return {name: tf.TensorSpec([None, None], tf.int32, name=name)
            for name in ("input_word_ids", "input_mask", "input_type_ids")}


class ServingModule(tf.Module):
    """The model, the in-graph tokenizer and the task's output functions."""

    def __init__(self, model, config, spm_model_file, albert_config_file):
        super().__init__()
        if config.task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, got {config.task!r}")
        self.model = model
        self.config = config
        self.tokenizer = InGraphTokenizer(spm_model_file, do_lower_case=config.do_lower_case)
        self.assets = [tf.saved_model.Asset(spm_model_file), tf.saved_model.Asset(albert_config_file)]
        python_tokenizer = FullTokenizer(spm_model_file, do_lower_case=config.do_lower_case)
        check_fits_the_model(config, model.config, python_tokenizer)
        self.cls_id, self.sep_id, self.mask_id = python_tokenizer.convert_tokens_to_ids(["[CLS]", "[SEP]", "[MASK]"])
        self.version_2 = bool(getattr(model, "version_2_with_negative", False))

    # --- signatures ---------------------------------------------------------------------------

    def signatures(self):
        ids = tf.function(self._from_ids, input_signature=[_ids_spec()])
        text = tf.function(self._squad_from_text if self.config.task == "squad" else self._from_text,
                           input_signature=self.text_specs())
        return {"serving_default": text.get_concrete_function(), "serving_ids": ids.get_concrete_function()}

    def text_specs(self):
        """The raw-string inputs of `serving_default` (and of the hub-format preprocessor)."""
        if self.config.task == "squad":
            names = ("question", "context")
        else:
            names = ("text_a", "text_b") if self.config.pair_input else ("text_a",)
        return [tf.TensorSpec([None], tf.string, name=name) for name in names]

    def preprocess(self, *texts):
        """The strings of `text_specs` → the model's input dict, as `serving_default` builds it."""
        if self.config.task == "squad":
            return self._squad_inputs(*texts)[0]
        return self._text_inputs(*texts)

    def _from_ids(self, inputs):
        return self._outputs(inputs)

    def _from_text(self, *texts):
        return self._outputs(self._text_inputs(*texts))

    def _text_inputs(self, text_a, text_b=None):
        tokenize = self._tokenize_with_masks if self.config.task == "pretraining" else self.tokenizer
        ids_b = tokenize(text_b) if text_b is not None else None
        return packing.pack(tokenize(text_a), ids_b, self.config.max_seq_length, self.cls_id, self.sep_id)

    def _tokenize_with_masks(self, texts):
        """Ids of texts in which "[MASK]" stands for one masked token (kept out of lowercasing)."""
        segments = tf.strings.split(texts, "[MASK]")
        ids = tf.cast(self.tokenizer(segments.flat_values), tf.int32)
        last = tf.range(tf.size(segments.flat_values), dtype=tf.int64) == tf.repeat(
            segments.row_limits() - 1, segments.row_lengths())
        masks = tf.ragged.boolean_mask(tf.fill([tf.size(segments.flat_values), 1], self.mask_id),
                                       tf.logical_not(last)[:, None])
        return tf.RaggedTensor.from_row_splits(tf.concat([ids, masks], axis=1), segments.row_splits).merge_dims(1, 2)

    # --- outputs per task ---------------------------------------------------------------------

    def _outputs(self, inputs):
        return getattr(self, f"_{self.config.task}_outputs")(inputs)

    def _encoder_outputs(self, inputs):
        outputs = float32_outputs(self.model, inputs)
        return {"pooled_output": outputs["pooled_output"], "sequence_output": outputs["sequence_output"]}

    def _classifier_outputs(self, inputs):
        logits = float32_outputs(self.model, inputs)["logits"]
        batch = tf.shape(logits)[0]
        extra = {} if self.config.threshold is None else {"threshold": tf.fill([batch], float(self.config.threshold))}
        if len(self.config.label_names) <= 1:
            return {"scores": logits[:, 0], **extra}
        names = tf.constant(list(self.config.label_names))
        predictions = tf.argmax(logits, axis=-1, output_type=tf.int32)
        return {"probabilities": tf.nn.softmax(logits), "predictions": predictions,
                "predicted_labels": tf.gather(names, predictions),
                "label_names": tf.tile(names[None], [batch, 1]), **extra}

    def _pretraining_outputs(self, inputs):
        is_mask = tf.equal(inputs["input_word_ids"], self.mask_id) & tf.equal(inputs["input_mask"], 1)
        positions = tf.ragged.boolean_mask(tf.ones_like(inputs["input_word_ids"]) * tf.range(
            tf.shape(inputs["input_word_ids"])[1])[None], is_mask)
        # At least one (dummy) position, so a batch without any [MASK] still has a defined shape.
        padded = positions.to_tensor(-1)
        padded = tf.pad(padded, [[0, 0], [0, tf.maximum(1 - tf.shape(padded)[1], 0)]], constant_values=-1)
        outputs = float32_outputs(self.model, {**inputs, "masked_lm_positions": tf.maximum(padded, 0)})
        probabilities, top_ids = tf.math.top_k(tf.nn.softmax(outputs["mlm_logits"]), k=self.config.top_k)
        tokens = self.tokenizer.sentencepiece.id_to_string(top_ids)
        valid = (padded >= 0)[..., None]
        return {"mlm_positions": padded,
                "mlm_top_k_ids": tf.where(valid, top_ids, -1),
                "mlm_top_k_tokens": tf.where(valid, tokens, ""),
                "mlm_top_k_probabilities": tf.where(valid, probabilities, 0.0),
                "sop_probabilities": tf.nn.softmax(outputs["sop_logits"])}

    def _squad_outputs(self, inputs):
        return self._best_span(inputs)[0]

    def _best_span(self, inputs):
        return best_span(self.model, inputs, self.config.max_answer_length, self.version_2)

    def _squad_inputs(self, question, context):
        """One window: the question cut to max_query_length, then as much context as fits. Also
        returns the context pieces kept, to read the answer's text from."""
        question_ids = self.tokenizer(question)[:, :self.config.max_query_length]
        context_pieces = self.tokenizer.tokenize(context)
        budget = self.config.max_seq_length - 3 - question_ids.row_lengths()
        context_pieces = tf.ragged.boolean_mask(
            context_pieces, tf.ragged.range(context_pieces.row_lengths()) < budget[:, None])
        context_ids = self.tokenizer.sentencepiece.string_to_id(context_pieces)
        inputs = packing.pack(question_ids, context_ids, self.config.max_seq_length, self.cls_id, self.sep_id)
        return inputs, context_pieces

    def _squad_from_text(self, question, context):
        inputs, context_pieces = self._squad_inputs(question, context)
        result, found, first_context, _ = self._best_span(inputs)
        start = result["start_index"] - first_context
        end = result["end_index"] - first_context
        span = tf.ragged.boolean_mask(context_pieces, (tf.ragged.range(context_pieces.row_lengths()) >= tf.cast(
            start, tf.int64)[:, None]) & (tf.ragged.range(context_pieces.row_lengths()) <= tf.cast(end, tf.int64)[:, None]))
        text = tf.strings.strip(tf.strings.regex_replace(tf.strings.reduce_join(span, axis=1), "▁", " "))
        answer = tf.where(found, text, "")
        if self.version_2:
            answer = tf.where(result["null_score"] >= self.config.null_score_diff_threshold, "", answer)
        return {"answer": answer, **result}


def float32_outputs(model, inputs):
    """The model's outputs at inference, floating ones in float32 whatever its dtype policy: a
    bfloat16 export answers with the same signature dtypes as a float32 one."""
    return tf.nest.map_structure(lambda t: tf.cast(t, tf.float32) if t.dtype.is_floating else t,
                                 model(inputs, training=False))


def best_span(model, inputs, max_answer_length, version_2):
    """The best valid span of each SQuAD window (as `serving_ids` returns it), whether the window has
    one, the context's first window position and the model's outputs; `inputs` packed as
    `packing.pack` does."""
    type_ids, mask = inputs["input_type_ids"], inputs["input_mask"]
    length = tf.reduce_sum(mask, axis=1)
    positions = tf.range(tf.shape(type_ids)[1])[None]
    # The context: segment 1 without its closing [SEP].
    context = tf.equal(type_ids, 1) & (positions < (length - 1)[:, None])
    p_mask = 1 - tf.cast(context | tf.equal(positions, 0), tf.int32)
    outputs = float32_outputs(model, {**inputs, "p_mask": p_mask})
    if version_2:
        start_index = tf.cast(outputs["start_top_index"], tf.int32)
        end_index = tf.cast(outputs["end_top_index"], tf.int32)
        scores = outputs["start_top_log_probs"][:, :, None] + outputs["end_top_log_probs"]
        starts = tf.broadcast_to(start_index[:, :, None], tf.shape(end_index))
        ends = end_index
    else:
        scores = outputs["start_logits"][:, :, None] + outputs["end_logits"][:, None, :]
        starts = tf.broadcast_to(positions[:, :, None], tf.shape(scores))
        ends = tf.broadcast_to(positions[:, None, :], tf.shape(scores))
    in_context = tf.gather(context, starts, batch_dims=1) & tf.gather(context, ends, batch_dims=1)
    valid = in_context & (ends >= starts) & (ends - starts < max_answer_length)
    flat_scores = tf.reshape(tf.where(valid, scores, -1e30), [tf.shape(scores)[0], -1])
    best = tf.argmax(flat_scores, axis=-1, output_type=tf.int32)
    found = tf.reduce_any(tf.reshape(valid, tf.shape(flat_scores)), axis=-1)
    result = {"start_index": tf.where(found, tf.gather(tf.reshape(starts, tf.shape(flat_scores)), best,
                                                       batch_dims=1), 0),
              "end_index": tf.where(found, tf.gather(tf.reshape(ends, tf.shape(flat_scores)), best,
                                                     batch_dims=1), 0),
              "score": tf.where(found, tf.gather(flat_scores, best, batch_dims=1), 0.0)}
    if version_2:
        result["null_score"] = outputs["cls_logits"]
    first_context = tf.argmax(tf.cast(context, tf.int32), axis=1, output_type=tf.int32)
    return result, found, first_context, outputs


class PreprocessorModule(tf.Module):
    """The TF-Hub-style preprocessor: raw strings → the encoder's input dict, exactly as the task's
    `serving_default` builds it ([MASK] kept for pretraining, the question cut for squad).

    Holds the tokenizer but not the model, so its SavedModel carries no model weights."""

    def __init__(self, serving):
        super().__init__()
        self.tokenizer = serving.tokenizer
        self.assets = serving.assets
        self.preprocess = tf.function(serving.preprocess, input_signature=serving.text_specs())

    def signatures(self):
        return {"serving_default": self.preprocess.get_concrete_function()}


def check_fits_the_model(config, albert_config, tokenizer):
    """Refuses settings the model cannot run: positions past its position table, or token ids
    past its word embeddings (a SentencePiece model larger than `vocab_size`)."""
    check_max_seq_length(config.max_seq_length, albert_config)
    if tokenizer.vocab_size > albert_config.vocab_size:
        raise ExportConfigError(
            f"the SentencePiece model {tokenizer.spm_model_file} (--spm_model_file) has {tokenizer.vocab_size} "
            f"pieces, more than vocab_size = {albert_config.vocab_size} of the model's config "
            "(--albert_config_file): their ids would be past the word embeddings")


def check_max_seq_length(max_seq_length, albert_config):
    if max_seq_length > albert_config.max_position_embeddings:
        raise ExportConfigError(
            f"max_seq_length (--max_seq_length) = {max_seq_length} exceeds max_position_embeddings = "
            f"{albert_config.max_position_embeddings} of the model's config (--albert_config_file): positions "
            "past it have no embedding")


def export_paths(export_dir, version, overwrite=False, hub_format=False):
    """The version folders an export writes, refused at once (`FileExistsError`) if one exists and may
    not be replaced: call it before building anything."""
    parents = [os.path.join(export_dir, part) for part in ("preprocessor", "encoder")] if hub_format else [export_dir]
    paths = [os.path.join(parent, str(version)) for parent in parents]
    for path in paths:
        if tf.io.gfile.exists(path) and not overwrite:
            raise FileExistsError(f"{path} exists; pass --overwrite to replace it, or choose another --version")
    return paths


def _warmup_requests(serving, texts, as_ids):
    """`serving_default`'s inputs for one request per warmup batch size: the texts, repeated to fill
    the batch, in every text input; or (the hub-format encoder, which takes ids) their ids from the
    export's own in-graph tokenizer and packing, so they are the preprocessor's."""
    requests = []
    for batch_size in WARMUP_BATCH_SIZES:
        batch = tf.constant([texts[i % len(texts)] for i in range(batch_size)])
        strings = {spec.name: batch for spec in serving.text_specs()}
        requests.append(serving.preprocess(*strings.values()) if as_ids else strings)
    return requests


def _save(module, signatures, path, config, warmup_requests):
    tf.saved_model.save(module, path, signatures=signatures)
    extra = os.path.join(path, "assets.extra")
    tf.io.gfile.makedirs(extra)
    write_warmup_requests(os.path.join(extra, "tf_serving_warmup_requests"), warmup_requests)
    with tf.io.gfile.GFile(os.path.join(extra, "versions.json"), "w") as f:
        json.dump({"tensorflow": tf.__version__, "tensorflow_text": importlib.metadata.version("tensorflow-text")},
                  f, indent=1, sort_keys=True)
    with tf.io.gfile.GFile(os.path.join(extra, "export_config.json"), "w") as f:
        # The model's dtype policy ("mixed_bfloat16" for a bfloat16 export); the preprocessor has no model.
        model = getattr(module, "model", None)
        policy = {} if model is None else {"dtype_policy": model.dtype_policy.name}
        json.dump({**dataclasses.asdict(config), **policy}, f, indent=1, sort_keys=True)


def export_saved_model(model, config, spm_model_file, export_dir, version=1, overwrite=False, hub_format=False,
                       warmup_texts=("a short example.",)):
    """Writes `<export_dir>/<version>/` and returns it; refuses an existing version unless `overwrite`.

    With `hub_format`, writes instead a TF-Hub-style pair, each servable on its own:
    `<export_dir>/preprocessor/<version>/` (strings → input dict, as `serving_default` builds it)
    and `<export_dir>/encoder/<version>/` (input dict → the task's outputs, as `serving_ids`).
    Returns the two paths then.

    Raises `ExportConfigError` (a ValueError) when `config.max_seq_length` exceeds the model's
    `max_position_embeddings` or the SentencePiece model has more pieces than its `vocab_size`, and
    `FileExistsError` when a version folder exists without `overwrite`, also one that another export
    put in place while this one was written (that one is kept). Leftovers of exports killed on this
    host are removed first.
    """
    paths = export_paths(export_dir, version, overwrite, hub_format)
    for path in paths:
        for left in leftovers(path):
            logging.warning("Removing %s, left by an export that did not complete.", left)
            discard(left)
    staging = [staging_path(path) for path in paths]
    # The model's config is an asset under the name the original release used.
    with tempfile.TemporaryDirectory(prefix="albert_export_") as asset_dir:
        config_file = os.path.join(asset_dir, "albert_config.json")
        model.config.to_json_file(config_file)
        serving = ServingModule(model, config, spm_model_file, config_file)
        if hub_format:  # (module, its signatures, whether serving_default takes ids) per path
            preprocessor = PreprocessorModule(serving)
            parts = [(preprocessor, preprocessor.signatures(), False),
                     (serving, {"serving_default": serving.signatures()["serving_ids"]}, True)]
        else:
            parts = [(serving, serving.signatures(), False)]
        try:
            for (module, signatures, takes_ids), directory in zip(parts, staging):
                _save(module, signatures, directory, config, _warmup_requests(serving, warmup_texts, takes_ids))
        except BaseException:
            for directory in staging:
                discard(directory)
            raise
    for directory, path in zip(staging, paths):
        publish(directory, path, replace=overwrite)
    return tuple(paths) if hub_format else paths[0]
