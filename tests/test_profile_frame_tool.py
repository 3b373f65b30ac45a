"""benchmarks.profile_frame: every sub-stage of frame → decision timed on a camera-size scene (no speed asserted)."""

from __future__ import annotations


def test_profile_names_every_sub_stage_for_both_frame_sizes(datasets_dir, capsys):
    from benchmarks.profile_frame import main

    assert main(["--root", str(datasets_dir), "--images", "1", "--runs", "1"]) == 0
    out = capsys.readouterr().out
    assert "CPU:" in out and "| sub-stage | 1280x960 | 640x480 |" in out
    for stage in ("detect: letterbox", "detect: YuNet invoke", "embed: SFace invoke",
                  "liveness: minifasnet_v2 invoke", "liveness: minifasnet_v1se invoke", "whole: analyse + liveness check"):
        assert f"| {stage} |" in out


def test_missing_datasets_is_one_line_and_exit_2(tmp_path, capsys):
    from benchmarks.profile_frame import main

    assert main(["--root", str(tmp_path)]) == 2
    assert "no faces/ folder" in capsys.readouterr().out
