"""`FullTokenizer`: SentencePiece with the original release's preprocessing."""

import unicodedata

import sentencepiece as spm

from albert_tf import file_system

SPIECE_UNDERLINE = "▁"
SPECIAL_TOKENS = ("[CLS]", "[SEP]", "[MASK]")


def preprocess_text(text, lower=False):
    """Collapses whitespace, NFKD-normalizes, strips combining marks, optionally lowercases."""
    text = " ".join(text.strip().split())
    # NFKD and the combining-mark filter leave ASCII unchanged, and skipping them when they cannot
    # change anything is most of `create_pretraining_data`'s tokenization time on English text.
    if not text.isascii():
        text = "".join([c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)])
    return text.lower() if lower else text


def encode_pieces(processor, text):
    """SentencePiece pieces, with a piece like "3.0," split into "3.0" and ",".

    A digit is a character of category Nd (the original used `str.isdigit`, which also takes
    e.g. superscripts; SentencePiece's NFKC turns those into Nd digits before this runs).

    This is the digit-comma rule as the original meant it; its Python 3 code compared str with
    bytes, so the leading-"▁" handling never ran (original issue #249).
    """
    pieces = []
    for piece in processor.encode(text, out_type=str):
        if len(piece) > 1 and piece[-1] == "," and unicodedata.category(piece[-2]) == "Nd":
            head = processor.encode(piece[:-1].replace(SPIECE_UNDERLINE, ""), out_type=str)
            if piece[0] != SPIECE_UNDERLINE and head and head[0].startswith(SPIECE_UNDERLINE):
                head[0] = head[0][1:]
                if not head[0]:
                    head = head[1:]
            pieces.extend(head + [","])
        else:
            pieces.append(piece)
    return pieces


def read_model_proto(spm_model_file):
    """The bytes of a SentencePiece model file, local or on any file system TensorFlow reads (gs://)."""
    if not file_system.exists(spm_model_file):
        raise FileNotFoundError(f"SentencePiece model not found: {spm_model_file}")
    with file_system.open(spm_model_file, "rb") as f:
        return f.read()


class FullTokenizer:
    """The original `tokenization.FullTokenizer` for SentencePiece models.

    Unlike the original, `tokenize` applies the preprocessing itself (the original left
    lowercasing and accent stripping to each caller, and `FullTokenizer.tokenize` on raw text did
    neither), so one call gives the ids the models were trained on.

    `model_proto`, the model file's bytes (`read_model_proto`), spares reading `spm_model_file`,
    which then only names the model in errors.
    """

    def __init__(self, spm_model_file, do_lower_case=True, model_proto=None):
        if model_proto is None:
            model_proto = read_model_proto(spm_model_file)
        try:
            self.processor = spm.SentencePieceProcessor(model_proto=model_proto)
        except RuntimeError:  # SentencePiece says only "could not parse ModelProto", naming no file
            raise ValueError(f"{spm_model_file} is not a SentencePiece model (pass the .model file that "
                             "spm_train wrote, or that came with the checkpoint; not its .vocab)") from None
        self.spm_model_file = spm_model_file
        self.do_lower_case = do_lower_case
        # Python dict lookups: a call into SentencePiece per piece costs more than the lookup itself.
        self._pieces = [self.processor.id_to_piece(i) for i in range(self.processor.get_piece_size())]
        self._ids = {piece: i for i, piece in enumerate(self._pieces)}
        self._unk_id = self.processor.unk_id()
        missing = [t for t in SPECIAL_TOKENS if self.processor.piece_to_id(t) == self.processor.unk_id()]
        if missing:
            raise ValueError(f"{spm_model_file} has no {missing} pieces; an ALBERT model needs [CLS], [SEP] "
                             "and [MASK] (train it with run/train_tokenizer.py)")

    @property
    def vocab_size(self):
        return self.processor.get_piece_size()

    def tokenize(self, text):
        return encode_pieces(self.processor, preprocess_text(text, lower=self.do_lower_case))

    def convert_tokens_to_ids(self, tokens):
        return [self._ids.get(token, self._unk_id) for token in tokens]

    def convert_ids_to_tokens(self, ids):
        ids = [int(i) for i in ids]
        bad = [i for i in ids if not 0 <= i < len(self._pieces)]
        if bad:
            raise IndexError(f"token ids {bad[:5]} are outside {self.spm_model_file}'s vocabulary "
                             f"(0..{len(self._pieces) - 1})")
        return [self._pieces[i] for i in ids]
