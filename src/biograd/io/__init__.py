"""Saving and loading models without pickle: weights in safetensors, everything else in JSON.

``biograd.save(model, "runs/cancer")`` writes a directory with two files:

- ``runs/cancer/model.safetensors``: every parameter by its dotted name (``"0.weight"``), in the
  `safetensors <https://github.com/huggingface/safetensors>`_ format that PyTorch, JAX and the Hugging Face
  tools read. The format is simple enough to write by hand, which is what :func:`write_safetensors` does::

      8 bytes      N, the length of the header, as a little-endian unsigned 64-bit integer
      N bytes      a JSON header: {"0.weight": {"dtype": "F32", "shape": [8, 4],
                                                "data_offsets": [0, 128]}, ...,
                                   "__metadata__": {"producer": "biograd 0.1.0"}}
      the rest     the raw little-endian bytes of every tensor; data_offsets count from here

- ``runs/cancer/model.json``: how to rebuild the network (``biograd.nn.to_config``), the biograd and file
  format versions, a checksum of the weights file, and what a later user needs to apply the model
  correctly: feature and class names, the task, the preprocessing (e.g. the means and standard
  deviations used for scaling), how it was trained, and any metadata of your own.

A path ending in ``.safetensors`` or ``.json`` names the pair ``stem.safetensors`` + ``stem.json`` instead
of a directory. Nothing is ever unpickled: a model file cannot run code when it is loaded.

Every write goes to a temporary file in the same directory that is then renamed over the old file
(``os.replace`` is atomic), so a save interrupted half-way never leaves a corrupt model behind. Any problem
when loading (missing file, truncated or corrupted bytes, unknown format version, weights that do not fit
the architecture) raises :class:`ModelFileError`, whose message names the file and what is wrong.

A model file may come from anyone, so loading trusts nothing in it: only regular files are read (not a
directory, a pipe or ``/dev/zero``), each up to a size limit; the JSON may not nest deeper than Python can
parse; the shapes the architecture declares must match the weights file *before* the network is built, so
a small file cannot make biograd allocate gigabytes; and weights that are NaN or infinite are refused.

One file per part:

- :mod:`~biograd.io.model`: :func:`save`, :func:`load`, :func:`read_metadata`, :func:`model_paths`.
- :mod:`~biograd.io.safetensors`: the weights file's format, written and read by hand.
- :mod:`~biograd.io.shapes`: what the architecture declares (:func:`declared_shapes`), checked against the
  weights before anything is allocated.
- :mod:`~biograd.io.files`: atomic writes, bounded reads of regular files, and :class:`ModelFileError`.
"""

from biograd.io.files import (
    ModelFileError,
    current_umask,
    process_is_alive,
    read_model_file,
    read_regular_file,
    remove_stale_temporaries,
    size_text,
)
from biograd.io.model import (
    CONFIG_FILE,
    FORMAT_NAME,
    FORMAT_VERSION,
    MAX_JSON_BYTES,
    WEIGHTS_FILE,
    load,
    model_paths,
    read_metadata,
    save,
)
from biograd.io.safetensors import (
    MAX_WEIGHTS_BYTES,
    parse_safetensors,
    read_safetensors,
    safetensors_bytes,
    write_safetensors,
)
from biograd.io.shapes import MAX_LAYERS, PARAMETER_FREE_LAYERS, declared_shapes

__all__ = [
    "CONFIG_FILE",
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "MAX_JSON_BYTES",
    "MAX_LAYERS",
    "MAX_WEIGHTS_BYTES",
    "PARAMETER_FREE_LAYERS",
    "WEIGHTS_FILE",
    "ModelFileError",
    "current_umask",
    "declared_shapes",
    "load",
    "model_paths",
    "parse_safetensors",
    "process_is_alive",
    "read_metadata",
    "read_model_file",
    "read_regular_file",
    "read_safetensors",
    "remove_stale_temporaries",
    "safetensors_bytes",
    "save",
    "size_text",
    "write_safetensors",
]
