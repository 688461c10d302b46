"""The model's config, SentencePiece model and lowercasing: from the flags, or from the checkpoint.

A Hugging Face folder, a keras-hub preset and a TF1 Hub module carry their config and usually
their SentencePiece model (and HF folders their lowercasing), so scripts given such a
checkpoint need neither `--albert_config_file` nor `--spm_model_file`. A flag given beside
a checkpoint that carries the same thing must agree with it.
"""

import dataclasses
import filecmp

from absl import app, flags

import albert_tf
import startup

formats = startup.lazy_import("albert_tf.checkpoint.formats")
glue = startup.lazy_import("albert_tf.finetuning.glue")

FLAGS = flags.FLAGS

SERVING_POLICIES = {"float32": "float32", "bfloat16": "mixed_bfloat16"}


def define_serving_dtype_flag():
    """--serving_dtype, for the scripts that write a SavedModel."""
    flags.DEFINE_enum("serving_dtype", "float32", list(SERVING_POLICIES),
                      "The exported SavedModel's precision. bfloat16: the matmuls run in bfloat16 (Keras' "
                      "mixed_bfloat16 policy: weights, LayerNorms and softmax stay float32; outputs are float32), "
                      "faster on CPUs with AVX512_BF16 or AMX and on GPUs/TPUs; README states the accuracy cost "
                      "measured on the sample.")


def serving_policy():
    """The Keras dtype policy that --serving_dtype names."""
    return SERVING_POLICIES[FLAGS.serving_dtype]


@dataclasses.dataclass(frozen=True)
class ModelFiles:
    """config: the `AlbertConfig`; spm_model_file and do_lower_case: the tokenizer's (None when
    neither flag nor checkpoint gives an spm model); checkpoint: the `CheckpointInfo`, or None."""

    config: "albert_tf.AlbertConfig"
    spm_model_file: str
    do_lower_case: bool
    checkpoint: object


def resolve(checkpoint, checkpoint_flag="init_checkpoint", need_spm_model=True):
    """The job's `ModelFiles` from `--albert_config_file`, `--spm_model_file`, `--do_lower_case` and
    the checkpoint (named `--<checkpoint_flag>` in errors), and `--max_seq_length` (where the script
    has it) checked against the config; usage errors before any heavy work."""
    info = None
    if checkpoint:
        try:
            info = formats.inspect_checkpoint(checkpoint)
        except (OSError, ValueError) as e:
            raise app.UsageError(f"--{checkpoint_flag}: {e}") from None
    config = _config(info, checkpoint_flag)
    _check_sequence_length(config)
    return ModelFiles(config, _spm_model_file(info, checkpoint_flag, need_spm_model),
                      _do_lower_case(info, checkpoint_flag), info)


def _check_sequence_length(config):
    # Found here, before any data is read: past max_position_embeddings the position lookup fails
    # deep inside a compiled step, after all the preprocessing.
    if "max_seq_length" in FLAGS and FLAGS.max_seq_length > config.max_position_embeddings:
        raise app.UsageError(f"--max_seq_length={FLAGS.max_seq_length} exceeds the model's max_position_embeddings="
                             f"{config.max_position_embeddings}; use at most {config.max_position_embeddings}")


def hub_module_or_checkpoint():
    """--init_checkpoint, or the fine-tuning scripts' original --albert_hub_module_handle (a module
    folder, downloaded and untarred); one of them, or both naming the same place."""
    handle, checkpoint = FLAGS.albert_hub_module_handle, FLAGS.init_checkpoint
    if handle and checkpoint and handle != checkpoint:
        raise app.UsageError("--albert_hub_module_handle and --init_checkpoint name different checkpoints; "
                             "pass one of them")
    return handle or checkpoint


def _config(info, checkpoint_flag):
    if FLAGS.albert_config_file:
        try:
            config = albert_tf.AlbertConfig.from_json_file(FLAGS.albert_config_file)
        except (OSError, ValueError) as e:
            raise app.UsageError(f"--albert_config_file: {e}") from None
        if info is not None and info.config is not None:
            differences = [f"{name}={getattr(config, name)!r} vs {getattr(info.config, name)!r}"
                           for name in formats.COMPUTATION_FIELDS if getattr(config, name) != getattr(info.config, name)]
            if differences:
                raise app.UsageError(
                    f"--albert_config_file {FLAGS.albert_config_file} disagrees with the config that --{checkpoint_flag} "
                    f"{info.path} carries ({', '.join(differences)}); leave the flag out to use the checkpoint's")
        return config
    if info is not None and info.config is not None:
        return info.config
    where = f" (--{checkpoint_flag} {info.path} is a {info.format} checkpoint, which carries none)" if info else ""
    raise app.UsageError(f"--albert_config_file is required{where}")


def _spm_model_file(info, checkpoint_flag, required):
    carried = info.spm_model_file if info is not None else None
    given = FLAGS.spm_model_file if "spm_model_file" in FLAGS else None
    if given:
        if carried and not filecmp.cmp(given, carried, shallow=False):
            raise app.UsageError(f"--spm_model_file {given} is not the SentencePiece model that "
                                 f"--{checkpoint_flag} carries ({carried}); leave the flag out to use the checkpoint's")
        return given
    if carried or not required:
        return carried
    where = f" (--{checkpoint_flag} {info.path} carries none)" if info else ""
    raise app.UsageError(f"--spm_model_file is required{where}")


def _do_lower_case(info, checkpoint_flag):
    declared = info.do_lower_case if info is not None else None
    if "do_lower_case" not in FLAGS:
        return declared
    if FLAGS["do_lower_case"].present:
        if declared is not None and declared != FLAGS.do_lower_case:
            raise app.UsageError(f"--do_lower_case={FLAGS.do_lower_case}, but --{checkpoint_flag} {info.path} declares "
                                 f"do_lower_case={declared} (tokenizer_config.json); leave the flag out")
        return FLAGS.do_lower_case
    return FLAGS.do_lower_case if declared is None else declared


def label_names(info):
    """A classifier's labels: --label_names, else the GLUE --task_name's, else those the checkpoint
    (`CheckpointInfo` or None) carries; one of them is needed."""
    if FLAGS.label_names:
        return tuple(FLAGS.label_names)
    if FLAGS.task_name:
        return glue.get_task(FLAGS.task_name).labels or ("score",)
    if info is not None and info.label_names:
        return info.label_names
    raise app.UsageError("--task=classifier needs --task_name (a GLUE task) or --label_names (--init_checkpoint "
                         "names no labels)")


def load_task_model(files, dtype=None):
    """The model --task names (`task_model`, under the Keras dtype policy `dtype`) with
    --init_checkpoint's weights, for an export; a checkpoint that does not fit it or holds
    non-finite weights is a one-line usage error."""
    labels = label_names(files.checkpoint) if FLAGS.task == "classifier" else ()
    model = task_model(files.config, labels, dtype)
    try:
        albert_tf.load_checkpoint(model, FLAGS.init_checkpoint)
    except albert_tf.CheckpointMismatchError as e:
        raise app.UsageError(f"--init_checkpoint does not fit --task={FLAGS.task}: {e}") from None
    except albert_tf.NonFiniteWeightsError as e:
        raise app.UsageError(f"--init_checkpoint: {e}") from None
    return model, labels


def task_model(albert_config, labels=(), dtype=None):
    """The model that --task names, to export: a classifier of `labels`, or squad as
    --version_2_with_negative, --start_n_top and --end_n_top say."""
    if FLAGS.task == "encoder":
        return albert_tf.AlbertEncoder(albert_config, dtype=dtype)
    if FLAGS.task == "pretraining":
        return albert_tf.AlbertPretrainer(albert_config, dtype=dtype)
    if FLAGS.task == "classifier":
        return albert_tf.AlbertClassifier(albert_config, len(labels), dtype=dtype)
    return albert_tf.AlbertQuestionAnswerer(albert_config, FLAGS.version_2_with_negative, FLAGS.start_n_top,
                                            FLAGS.end_n_top, dtype=dtype)
