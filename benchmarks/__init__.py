"""Every benchmark of Tepat Edge, outside the runtime package (``edge`` never imports this package
except ``edge bench``, which loads :mod:`benchmarks.face_pipeline` inside its command function).

* ``python -m benchmarks --help``: side-by-side, Tepat's face pipeline against the tools people would
  otherwise use (``run``, ``camera``, ``search``, ``worker``, ``systems``, ``metrics``, ``report``).
  Needs the optional ``[bench]`` extra (face_recognition + dlib-bin, faiss-cpu); a system whose
  package is missing is reported as "not installed" instead of failing the run.
* ``edge bench`` (:mod:`benchmarks.face_pipeline`): per-stage latency, 1:N search, peak RSS.
* ``python -m benchmarks.claim_flow``, ``.gps``, ``.transport``, ``.service``: the claim flow, the GPS
  reader, the outbox/MQTT path and the running service (docs/BENCHMARKS.md names each command).
* ``python -m benchmarks.liveness_invoke``, ``.synthetic_attacks``: liveness model timings and the
  simulator's attacks against the passive check.
"""
