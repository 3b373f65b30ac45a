"""`python -m benchmarks.liveness_invoke`: the command docs/LIVENESS.md names for the MiniFASNet invoke timings."""

from __future__ import annotations

import re

from benchmarks.liveness_invoke import REPO, main


def test_times_every_shipped_minifasnet(capsys):
    assert main([str(REPO / "models"), "--runs", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    names = [line.split()[0] for line in lines]
    assert names == ["models/minifasnet_v1se_fp32.tflite", "models/minifasnet_v2_fp32.tflite"]
    for line in lines:
        assert re.search(r"invoke median \d+\.\d\d ms \(1 thread, 3 runs\)$", line), line


def test_no_model_is_one_line_exit_2(tmp_path, capsys):
    assert main([str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(tmp_path) in err
