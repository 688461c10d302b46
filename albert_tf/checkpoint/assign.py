"""Loading stored arrays into a model through a name table: checked first, then all or nothing.

Every format (the original TF1 names, Hugging Face, keras-hub) describes itself as rows of
`Row`: a stored name, the variable it fills, and how the stored array is laid out. This module
checks a whole table against what a checkpoint holds and assigns only when everything fits, so
each format reports missing, unexpected and mis-shaped weights the same way.
"""

import dataclasses

import numpy as np
from absl import logging

# How a stored array relates to our variable: the same array, its transpose (PyTorch's
# nn.Linear keeps [out, in] where a Keras kernel is [in, out]), or the same values in another
# shape (keras-hub's attention kernels are [H, heads, head_size] where ours are [H, H]).
AS_IS, TRANSPOSED, RESHAPED = "as_is", "transposed", "reshaped"


class CheckpointMismatchError(ValueError):
    """A checkpoint's variables do not fit the model built from the config."""


@dataclasses.dataclass(frozen=True)
class Row:
    """One stored weight and the model variable it fills.

    head: the weight belongs to a head (or to the pooler where a format may omit it), so a
        checkpoint without it is still usable when the caller allows missing heads.
    """

    name: str
    variable: object
    layout: str = AS_IS
    head: bool = False

    def stored_shape(self):
        shape = tuple(self.variable.shape)
        return shape[::-1] if self.layout == TRANSPOSED else shape

    def fits(self, shape):
        if self.layout == RESHAPED:
            return int(np.prod(shape)) == int(np.prod(self.variable.shape))
        return tuple(shape) == self.stored_shape()

    def to_model(self, value):
        value = np.asarray(value)
        if self.layout == TRANSPOSED:
            value = value.T
        elif self.layout == RESHAPED:
            value = value.reshape(self.variable.shape)
        return value.astype(self.variable.dtype)

    def to_stored(self, shape=None):
        """The variable's value as the format stores it (`shape`: the stored shape, for RESHAPED)."""
        value = np.asarray(self.variable)
        if self.layout == TRANSPOSED:
            return np.ascontiguousarray(value.T)
        return value.reshape(shape) if self.layout == RESHAPED else value


@dataclasses.dataclass
class LoadReport:
    """What a load did.

    loaded: stored names read into the model.
    missing_heads: head weights the checkpoint lacks; they keep their initial values.
    unused: stored weights outside the encoder that the model has no place for (e.g. the
        pretraining heads when loading into a bare encoder).
    """

    loaded: list
    missing_heads: list
    unused: list


def assign_rows(rows, stored_shapes, read, *, source, is_encoder_name, allow_missing_heads=False,
                sources=None, ignore_unused=lambda name: False):
    """Checks `rows` against a checkpoint's {name: shape}, then assigns every row or none.

    Args:
        rows: the model's `Row`s.
        stored_shapes: {stored name: shape} of the checkpoint (training state already removed).
        read: stored name → array.
        source: the checkpoint, as named in errors.
        is_encoder_name: whether a stored name belongs to the encoder: such a name that no row
            uses is an error (the checkpoint has layers the config does not), any other unused
            name is only reported.
        allow_missing_heads: missing head rows keep their initialization instead of failing.
        sources: {row name: stored name} where a row reads another name (init_from_group0).
        ignore_unused: stored names that may go unused without a report.
    Returns: a `LoadReport`.
    Raises: `CheckpointMismatchError` listing every problem; nothing was assigned then.
    """
    sources = sources or {}
    found = {row.name: sources.get(row.name, row.name) for row in rows
             if sources.get(row.name, row.name) in stored_shapes}
    used = set(found.values())
    missing = [row for row in rows if row.name not in found]
    missing_encoder = [row for row in missing if not row.head]
    missing_heads = [row for row in missing if row.head]
    leftover = [name for name in stored_shapes if name not in used and not ignore_unused(name)]
    unexpected = [name for name in leftover if is_encoder_name(name)]
    unused = sorted(name for name in leftover if not is_encoder_name(name))
    mismatched = [row for row in rows if row.name in found and not row.fits(stored_shapes[found[row.name]])]

    problems = []
    if missing_encoder:
        problems.append(_listing("in the model but missing from the checkpoint",
                                 {row.name: row.stored_shape() for row in missing_encoder}))
    if unexpected:
        problems.append(_listing("in the checkpoint but not in the model",
                                 {name: stored_shapes[name] for name in unexpected}))
    if mismatched:
        problems.append("shape mismatch (checkpoint vs model):\n" + "\n".join(
            f"  {row.name}: {list(stored_shapes[found[row.name]])} vs {list(row.stored_shape())}"
            for row in sorted(mismatched, key=lambda row: row.name)))
    if missing_heads and not allow_missing_heads:
        problems.append(_listing(
            "head variables missing from the checkpoint (pass allow_missing_heads=True to start them "
            "from random initialization)", {row.name: row.stored_shape() for row in missing_heads}))
    if problems:
        raise CheckpointMismatchError(
            f"checkpoint {source} does not fit the model built from the ALBERT config:\n" + "\n".join(problems))

    for row in rows:
        if row.name in found:
            row.variable.assign(row.to_model(read(found[row.name])))
    missing_names = [row.name for row in missing_heads]
    if missing_names:
        logging.warning("Checkpoint %s has no %s; they keep their random initialization.", source, missing_names)
    if unused:
        logging.info("Checkpoint %s: not used by this model: %s", source, unused)
    return LoadReport(loaded=sorted(found), missing_heads=missing_names, unused=unused)


def _listing(title, shapes):
    return f"{title}:\n" + "\n".join(f"  {name} {list(shape)}" for name, shape in sorted(shapes.items()))
