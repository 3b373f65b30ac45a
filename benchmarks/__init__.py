"""Side-by-side benchmarks: Tepat's face pipeline against the tools people would otherwise use.

Run ``python -m benchmarks --help``. Needs the optional ``[bench]`` extra
(face_recognition + dlib-bin, faiss-cpu); a system whose package is missing is
reported as "not installed" instead of failing the run.
"""
