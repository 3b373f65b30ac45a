"""Rebuild ``models/*.tflite`` from the upstream ONNX/TFLite files (needs the ``[models]`` extra).

Run with ``edge models build`` or ``python -m edge.model_build``. Nothing heavy is imported here:
:mod:`edge.model_build.sources` is also used at runtime to find reference ONNX files.
"""
