"""Network layout, preprocessing and model loading of the body part regression reimplementation."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from mhubio.bpr.inference import BodyPartRegressor, InferenceSettings, resolve_model_dir
from mhubio.bpr.model import BodyPartRegressionNet
from mhubio.bpr.preprocess import PreprocessingSettings, preprocess_volume, scale_hu, to_bpreg_layout
from tests.support.bpr import example_inference_settings, write_model_folder

#: Convolution indices of torchvision's vgg16().features and their (out, in) channels.
VGG16_CONVOLUTIONS = {
    0: (64, 1), 2: (64, 64), 5: (128, 64), 7: (128, 128), 10: (256, 128), 12: (256, 256), 14: (256, 256),
    17: (512, 256), 19: (512, 512), 21: (512, 512), 24: (512, 512), 26: (512, 512), 28: (512, 512),
}


def test_state_dict_matches_bpreg_layout() -> None:
    expected = {"conv6.weight": (512, 512, 1, 1), "conv6.bias": (512,), "fc7.weight": (1, 512), "fc7.bias": (1,)}
    for index, (out_channels, in_channels) in VGG16_CONVOLUTIONS.items():
        expected[f"model.{index}.weight"] = (out_channels, in_channels, 3, 3)
        if index != 0:
            expected[f"model.{index}.bias"] = (out_channels,)
    state = BodyPartRegressionNet().state_dict()
    assert {key: tuple(value.shape) for key, value in state.items()} == expected


def test_forward_gives_one_score_per_slice() -> None:
    network = BodyPartRegressionNet().eval()
    with torch.inference_mode():
        assert network(torch.zeros(3, 1, 128, 128)).shape == (3,)


class TestPreprocessing:
    def test_hu_window_is_clipped_and_scaled_to_minus_one_one(self) -> None:
        scaled = scale_hu(np.array([[[-2000.0, -1000.0, 250.0, 1500.0, 3000.0]]]), PreprocessingSettings())
        np.testing.assert_allclose(scaled[0, 0], [-1.0, -1.0, 0.0, 1.0, 1.0])

    def test_layout_is_columns_then_reversed_rows(self) -> None:
        volume = np.arange(2 * 3 * 4).reshape(2, 3, 4)
        layout = to_bpreg_layout(volume)
        assert layout.shape == (2, 4, 3)
        for k in range(2):
            for row in range(3):
                for column in range(4):
                    assert layout[k, column, 2 - row] == volume[k, row, column]

    @pytest.mark.parametrize(
        "shape, spacing",
        [((3, 64, 80), (5.0, 3.5, 3.5)), ((2, 512, 512), (3.0, 0.7, 0.7)), ((2, 300, 200), (1.0, 2.0, 1.0))],
    )
    def test_output_is_size_by_size(self, shape: tuple[int, int, int], spacing: tuple[float, float, float]) -> None:
        out = preprocess_volume(np.zeros(shape), spacing)
        assert out.shape == (shape[0], 128, 128)
        assert out.dtype == np.float32

    def test_small_image_is_centred_and_padded_with_minimum(self) -> None:
        volume = np.full((1, 64, 80), 1500.0)
        out = preprocess_volume(volume, (5.0, 3.5, 3.5))[0]
        # bpreg layout: axis 1 = columns (80), axis 2 = rows (64); at 3.5 mm nothing is resampled.
        np.testing.assert_allclose(out[24:104, 32:96], 1.0, atol=1e-6)
        assert np.all(out[:24] == -1.0) and np.all(out[104:] == -1.0)
        assert np.all(out[:, :32] == -1.0) and np.all(out[:, 96:] == -1.0)

    def test_large_image_is_downsampled_and_centre_cropped(self) -> None:
        volume = np.full((1, 700, 700), -1000.0)
        volume[0, 340:360, 340:360] = 1500.0
        out = preprocess_volume(volume, (1.0, 0.7, 0.7))[0]
        assert out.shape == (128, 128)
        peak = np.unravel_index(np.argmax(out), out.shape)
        assert all(abs(p - 63.5) <= 2 for p in peak)

    @pytest.mark.parametrize("spacing", [(1.0, 1.0), (1.0, 1.0, 0.0), (1.0, -1.0, 1.0)])
    def test_bad_spacing_is_rejected(self, spacing: tuple[float, ...]) -> None:
        with pytest.raises(ValueError, match="spacing"):
            preprocess_volume(np.zeros((1, 8, 8)), spacing)

    def test_two_dimensional_input_is_rejected(self) -> None:
        with pytest.raises(ValueError, match="shape"):
            preprocess_volume(np.zeros((8, 8)), (1.0, 1.0, 1.0))


class TestModelFolder:
    def test_load_counts_and_scores_each_slice(self, tmp_path) -> None:
        folder = write_model_folder(tmp_path / "model")
        before = BodyPartRegressor.load_count
        regressor = BodyPartRegressor.load(folder, batch_size=2)
        assert BodyPartRegressor.load_count == before + 1
        scores = regressor.predict_scores(np.random.default_rng(0).normal(0, 400, (5, 40, 40)), (3.0, 2.0, 2.0))
        assert scores.shape == (5,) and np.isfinite(scores).all()

    def test_batches_give_the_same_scores(self, tmp_path) -> None:
        folder = write_model_folder(tmp_path / "model", seed=3)
        volume = np.random.default_rng(1).normal(0, 400, (5, 40, 40))
        one = BodyPartRegressor.load(folder, batch_size=1).predict_scores(volume, (3.0, 2.0, 2.0))
        all_at_once = BodyPartRegressor.load(folder, batch_size=5).predict_scores(volume, (3.0, 2.0, 2.0))
        np.testing.assert_allclose(one, all_at_once, rtol=1e-5, atol=1e-6)

    def test_archive_layout_is_accepted(self, tmp_path) -> None:
        write_model_folder(tmp_path / "public_bpr_model")
        assert resolve_model_dir(tmp_path) == tmp_path / "public_bpr_model"

    @pytest.mark.parametrize("missing", ["model.pt", "config.json", "inference-settings.json"])
    def test_missing_file_is_named(self, tmp_path, missing: str) -> None:
        folder = write_model_folder(tmp_path / "model")
        (folder / missing).unlink()
        with pytest.raises(FileNotFoundError, match=missing):
            BodyPartRegressor.load(folder)

    def test_missing_folder_is_named(self, tmp_path) -> None:
        with pytest.raises(FileNotFoundError, match="does not exist"):
            BodyPartRegressor.load(tmp_path / "nowhere")

    def test_foreign_weights_are_rejected(self, tmp_path) -> None:
        folder = write_model_folder(tmp_path / "model")
        torch.save({"fc.weight": torch.zeros(1, 2)}, folder / "model.pt")
        with pytest.raises(ValueError, match="VGG16"):
            BodyPartRegressor.load(folder)

    def test_unsupported_base_model_is_rejected(self, tmp_path) -> None:
        folder = write_model_folder(tmp_path / "model")
        (folder / "config.json").write_text(json.dumps({"base_model": "resnet"}))
        with pytest.raises(ValueError, match="resnet"):
            BodyPartRegressor.load(folder)

    def test_settings_use_start_and_end_landmarks_of_original_table(self) -> None:
        settings = InferenceSettings.from_dict(example_inference_settings())
        original = example_inference_settings()["lookuptable_train_val"]["original"]
        assert settings.score_processing.transform_min == original["pelvis_start"]["mean"]
        assert settings.score_processing.transform_max == original["eyes_end"]["mean"]
        assert settings.lookup_table["eyes_end"].mean == 100.0

    def test_incomplete_settings_are_rejected(self) -> None:
        data = example_inference_settings()
        del data["slope_mean"]
        with pytest.raises(ValueError, match="slope_mean"):
            InferenceSettings.from_dict(data)
