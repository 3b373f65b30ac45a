"""Rebuild ``models/*.tflite`` from the upstream ONNX/TFLite files (needs the ``[models]`` extra).

Run with ``edge models build`` or ``python -m model_build``. Nothing heavy is imported here.
Build tooling, outside the runtime package: it may import ``edge`` (the source-model table and
hashing live in :mod:`edge.face.model_files`), ``edge`` never imports it except the ``edge models``
command functions, lazily.
"""
