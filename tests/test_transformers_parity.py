"""Hugging Face folders against `transformers` itself, where it and PyTorch are installed.

Neither is a dependency of albert_tf (nor of its CI); install them to run this module:
`pip install torch transformers`, then `python -m pytest -m slow tests/test_transformers_parity.py`.
"""

import json
import os

import numpy as np
import pytest

from albert_tf import AlbertConfig, AlbertEncoder, FullTokenizer
from albert_tf.checkpoint import build_model, inspect_checkpoint, load_checkpoint, save_checkpoint
from tests.conftest import REPO_ROOT
from tests.harness import HUGGINGFACE_CLASSES as MODELS
from tests.harness import randomized

pytestmark = pytest.mark.slow
torch = transformers = None  # imported by `peers` only where the module runs: the default run never needs them


@pytest.fixture(autouse=True, scope="module")
def peers():
    """torch and transformers; without them this module fails (it is never skipped): install them."""
    global torch, transformers
    try:
        import torch
        import transformers
    except ImportError as error:
        raise ImportError(f"{error}: pip install torch transformers to run the transformers parity tests") from None

SAMPLE_SPM = os.path.join(REPO_ROOT, "tfrecords", "sample", "botchan.model")
CONFIG = AlbertConfig(vocab_size=4000, embedding_size=8, hidden_size=16, num_hidden_layers=3, num_hidden_groups=2,
                      inner_group_num=2, num_attention_heads=4, intermediate_size=24, max_position_embeddings=32)
# Float32 on both sides; the attention and LayerNorm sums run in different orders (measured ≤ 2e-6).
ATOL = 1e-5
POSITIONS = np.array([[1, 4, 8], [2, 5, 0], [1, 0, 0]])


def batch(multiple_choice=False):
    rng = np.random.default_rng(7)
    mask = (np.arange(10)[None] < np.array([10, 6, 3])[:, None]).astype(np.int32)
    ids = rng.integers(5, 4000, (3, 10)).astype(np.int32) * mask
    types = (np.arange(10)[None] >= 5).astype(np.int32) * mask
    arrays = {"input_word_ids": ids, "input_mask": mask, "input_type_ids": types}
    if multiple_choice:
        arrays = {key: np.stack([np.roll(value, k, axis=0) for k in range(4)], axis=1) for key, value in arrays.items()}
    return arrays


def as_torch(arrays):
    return {"input_ids": torch.tensor(arrays["input_word_ids"], dtype=torch.long),
            "attention_mask": torch.tensor(arrays["input_mask"], dtype=torch.long),
            "token_type_ids": torch.tensor(arrays["input_type_ids"], dtype=torch.long)}


def compare(architecture, ours, theirs):
    """(our output, transformers' output) pairs of a model of `architecture`, as NumPy arrays."""
    arrays = batch(multiple_choice=architecture == "AlbertForMultipleChoice")
    with torch.no_grad():
        out = theirs(**as_torch(arrays))
    if architecture == "AlbertModel":
        mine = ours(arrays)
        return [(mine["sequence_output"], out.last_hidden_state), (mine["pooled_output"], out.pooler_output)]
    if architecture == "AlbertForPreTraining":
        mine = ours({**arrays, "masked_lm_positions": POSITIONS.astype(np.int32)})
        mlm = torch.take_along_dim(out.prediction_logits, torch.tensor(POSITIONS)[..., None], dim=1)
        return [(mine["mlm_logits"], mlm), (mine["sop_logits"], out.sop_logits)]
    if architecture == "AlbertForQuestionAnswering":
        mine = ours(arrays)
        return [(mine["start_logits"], out.start_logits), (mine["end_logits"], out.end_logits)]
    return [(ours(arrays)["logits"], out.logits)]


@pytest.mark.parametrize("architecture", MODELS)
def test_transformers_loads_our_folder_with_no_missing_or_unexpected_keys(architecture, tmp_path):
    folder = save_checkpoint(randomized(MODELS[architecture](CONFIG)), str(tmp_path / "hf"), "huggingface",
                             spm_model_file=SAMPLE_SPM)

    _, info = getattr(transformers, architecture).from_pretrained(folder, output_loading_info=True)

    assert {key: list(value) for key, value in info.items() if value} == {}


@pytest.mark.parametrize("architecture", MODELS)
def test_transformers_computes_what_we_compute_from_our_folder(architecture, tmp_path):
    ours = randomized(MODELS[architecture](CONFIG))
    folder = save_checkpoint(ours, str(tmp_path / "hf"), "huggingface")

    theirs = getattr(transformers, architecture).from_pretrained(folder).eval()

    for mine, expected in compare(architecture, ours, theirs):
        np.testing.assert_allclose(np.asarray(mine), expected.numpy(), atol=ATOL)


@pytest.mark.parametrize("architecture, hidden_act", [(name, "gelu_new") for name in MODELS]
                         + [("AlbertForPreTraining", "gelu")])
def test_we_compute_what_transformers_computes_from_its_own_folder(architecture, hidden_act, tmp_path):
    torch.manual_seed(0)
    hf_config = transformers.AlbertConfig(
        vocab_size=4000, embedding_size=8, hidden_size=16, num_hidden_layers=3, num_hidden_groups=2, inner_group_num=2,
        num_attention_heads=4, intermediate_size=24, max_position_embeddings=32, hidden_act=hidden_act,
        num_labels=3 if architecture == "AlbertForSequenceClassification" else 2, initializer_range=0.3)
    theirs = getattr(transformers, architecture)(hf_config).eval()
    theirs.save_pretrained(str(tmp_path / "hf"))

    info = inspect_checkpoint(str(tmp_path / "hf"))
    ours = build_model(info)
    load_checkpoint(ours, str(tmp_path / "hf"))

    for mine, expected in compare(architecture, ours, theirs):
        np.testing.assert_allclose(np.asarray(mine), expected.numpy(), atol=ATOL)


def test_transformers_tokenizer_from_our_folder_gives_our_ids(tmp_path):
    folder = save_checkpoint(AlbertEncoder(CONFIG), str(tmp_path / "hf"), "huggingface", spm_model_file=SAMPLE_SPM,
                             do_lower_case=True)
    text = "Hello World, it's a Café, I said."
    ours = FullTokenizer(SAMPLE_SPM, do_lower_case=True)

    theirs = transformers.AutoTokenizer.from_pretrained(folder)

    expected = ours.convert_tokens_to_ids(["[CLS]", *ours.tokenize(text), "[SEP]"])
    assert (theirs(text)["input_ids"], json.load(open(os.path.join(folder, "tokenizer_config.json")))["do_lower_case"]) \
        == (expected, True)
