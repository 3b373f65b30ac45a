"""Face detection, alignment, embedding and matching.

Model files and the TFLite runner live in :mod:`edge.face.models`.
"""
