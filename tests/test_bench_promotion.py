"""bench/promotion.py's own arithmetic, without Docker: a copy's figures on the emulator for a small image
pushed as the bench pushes one, and a run on a machine without the built arm64 images, which builds nothing."""

from __future__ import annotations

import gzip

import pytest

from bench import promotion
from demo.emulator import Emulator


def test_a_copy_counts_every_blob_it_moves_and_a_second_copy_moves_nothing(tmp_path):
    config_path = tmp_path / "config"
    config_path.write_bytes(b'{"architecture":"arm64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}')
    layers = []
    for n in range(2):
        path = tmp_path / f"layer-{n}.tar.gz"
        path.write_bytes(gzip.compress(bytes(range(256)) * (4000 + n), mtime=0))
        layers.append(promotion.blob(path, promotion.LAYER))
    config = promotion.blob(config_path, promotion.CONFIG)
    with Emulator() as emulator:
        emulator.reset()
        figures = promotion.copy_figures(emulator, "predictor", config, layers)
    assert figures["blobs"] == 3 and figures["megabytes"] == pytest.approx((config.size + sum(b.size for b in layers)) / 1e6)
    assert figures["same_digest"] and not figures["rewritten"], "the copy keeps the digest; the second writes nothing"
    assert 0 < figures["again_s"] and 0 < figures["copy_s"]


def test_without_built_images_nothing_is_built_and_the_report_says_what_is_missing(monkeypatch):
    monkeypatch.setattr(promotion.builds, "built_tag", lambda image, emulated: f"commodity-forecasts-local/absent-{image}:none")

    def no_build(*_, **__):
        raise AssertionError("the copy bench builds nothing unless asked")

    monkeypatch.setattr(promotion.builds, "timed_build", no_build)
    results = promotion.measure({"predictor": {"cross_s": 87.0}, "trainer": {"cross_s": 121.0}})
    assert results == {image: {"build_s": seconds, "missing": f"commodity-forecasts-local/absent-{image}:none"}
                       for image, seconds in (("predictor", 87.0), ("trainer", 121.0))}
    assert "not measured: no image commodity-forecasts-local/absent-trainer:none" in promotion.report(results)
    assert promotion.summary(results) == ["prod's copy by digest: not measured (no built arm64 image)"]


def test_the_summary_sets_the_copies_against_the_builds_they_replace():
    results = {"predictor": {"build_s": 80.0, "copy_s": 2.0, "megabytes": 100.0},
               "trainer": {"build_s": 120.0, "copy_s": 3.0, "megabytes": 160.0}}
    assert promotion.summary(results) == [
        "prod's copy by digest of both arm64 images: 5.0 s for 260 MB; the two builds it replaces: 200 s (0.025x)"]
    untimed = {image: {**figures, "build_s": None} for image, figures in results.items()}
    assert promotion.summary(untimed) == ["prod's copy by digest of both arm64 images: 5.0 s for 260 MB"]
