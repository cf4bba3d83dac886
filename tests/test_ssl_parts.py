"""Tests for anchormi.ssl: data loading, augmentations, encoders and representation metrics."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from PIL import Image

from anchormi.ssl import augment as augment_module
from anchormi.ssl import metrics as metrics_module
from anchormi.ssl import (
    Augment,
    RandomRotation,
    RandomShift,
    SimCLRModel,
    alignment,
    color_jitter,
    compose,
    default_augment,
    gaussian_noise,
    images_from_array,
    linear_cka,
    linear_probe_accuracy,
    linear_probe_topk,
    load_digits_images,
    load_image_folder,
    random_erasing,
    random_flip,
    random_resized_crop,
    random_rotation,
    random_shift,
    uniformity,
)


def _generator(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _mid_grey_images(n: int = 64, channels: int = 1, size: int = 8, seed: int = 0) -> torch.Tensor:
    """Random images in [0.2, 0.8]: every pixel differs from the 0 that shifts, erasing and padding bring in."""
    return 0.2 + 0.6 * torch.rand(n, channels, size, size, generator=_generator(seed))


# Each augmentation with parameters that make it act on every call.
AUGMENTATIONS = {
    "shift": lambda images, g: random_shift(images, generator=g, max_shift=1),
    "resized_crop": lambda images, g: random_resized_crop(images, generator=g, scale=(0.3, 0.8)),
    "rotation": lambda images, g: random_rotation(images, generator=g, max_degrees=30.0),
    "flip": lambda images, g: random_flip(images, generator=g, probability=1.0),
    "color_jitter": lambda images, g: color_jitter(images, generator=g, brightness=0.4, contrast=0.4),
    "noise": lambda images, g: gaussian_noise(images, generator=g, std=0.1),
    "erasing": lambda images, g: random_erasing(images, generator=g, probability=1.0),
    "default_8px": lambda images, g: default_augment(images.shape[-1])(images, g),
    "default_32px": lambda images, g: default_augment(32)(images, g),
}


# --- augmentations -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(AUGMENTATIONS))
@pytest.mark.parametrize("channels, size", [(1, 8), (3, 32)])
def test_augmentation_keeps_shape_dtype_and_unit_range(name, channels, size):
    images = torch.rand(16, channels, size, size, generator=_generator(1))
    images[0] = 0.0  # extremes must stay valid too
    images[1] = 1.0
    view = AUGMENTATIONS[name](images, _generator(2))
    assert view.shape == images.shape
    assert view.dtype == images.dtype
    assert float(view.min()) >= 0.0 and float(view.max()) <= 1.0


@pytest.mark.parametrize("name", sorted(AUGMENTATIONS))
def test_augmentation_is_deterministic_given_the_generator_seed(name):
    images = _mid_grey_images()
    first = AUGMENTATIONS[name](images, _generator(7))
    second = AUGMENTATIONS[name](images, _generator(7))
    other_seed = AUGMENTATIONS[name](images, _generator(8))
    assert torch.equal(first, second)
    if name != "flip":  # flipping with probability 1 draws nothing that a seed could change
        assert not torch.equal(first, other_seed)


@pytest.mark.parametrize("name", sorted(AUGMENTATIONS))
def test_augmentation_changes_most_images(name):
    images = _mid_grey_images()
    view = AUGMENTATIONS[name](images, _generator(3))
    changed = (view - images).abs().amax(dim=(1, 2, 3)) > 1e-3
    # The shift leaves an image in place with chance 1/9 and rotation/jitter draw near-identity
    # parameters rarely; more than half of 64 images unchanged would be a many-sigma event.
    assert changed.float().mean() > 0.5


def test_augmentation_does_not_modify_its_input():
    images = _mid_grey_images()
    original = images.clone()
    for apply in AUGMENTATIONS.values():
        apply(images, _generator(0))
    assert torch.equal(images, original)


def test_random_shift_is_an_integer_translation_with_zero_fill():
    images = _mid_grey_images(n=32)
    shifted = random_shift(images, generator=_generator(0), max_shift=1)
    padded = torch.nn.functional.pad(images, (1, 1, 1, 1))
    for original_padded, view in zip(padded, shifted):
        windows = [original_padded[:, r : r + 8, c : c + 8] for r in range(3) for c in range(3)]
        assert any(torch.equal(view, window) for window in windows)


def test_random_erasing_zeroes_one_rectangle_per_image():
    images = _mid_grey_images(n=32)
    erased = random_erasing(images, generator=_generator(0), probability=1.0, area=(0.1, 0.3))
    for view, original in zip(erased, images):
        zero_mask = view[0] == 0
        rows = torch.nonzero(zero_mask.any(dim=1)).flatten()
        cols = torch.nonzero(zero_mask.any(dim=0)).flatten()
        assert zero_mask.sum() >= 1
        box = zero_mask[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
        assert box.all(), "the zeroed pixels must fill their bounding rectangle"
        assert torch.equal(view[:, ~zero_mask], original[:, ~zero_mask])
    untouched = random_erasing(images, generator=_generator(0), probability=0.0)
    assert torch.equal(untouched, images)


def test_zero_strength_geometric_augmentations_are_the_identity():
    images = _mid_grey_images()
    assert torch.allclose(random_rotation(images, generator=_generator(0), max_degrees=0.0), images, atol=1e-6)
    full_crop = random_resized_crop(images, generator=_generator(0), scale=(1.0, 1.0), ratio=(1.0, 1.0))
    assert torch.allclose(full_crop, images, atol=1e-6)
    assert torch.equal(random_shift(images, generator=_generator(0), max_shift=0), images)
    assert torch.equal(random_flip(images, generator=_generator(0), probability=1.0), images.flip(-1))


def test_rotation_maps_are_rigid_quarter_and_half_turns():
    # A quarter turn of a square image and a half turn of a non-square one land exactly on pixels.
    square = _mid_grey_images(n=3)
    quarter_turn = augment_module._rotation_theta(torch.full((3,), math.pi / 2), 8, 8)
    rotated = augment_module._warp(square, quarter_turn, padding_mode="zeros")
    assert torch.allclose(rotated, torch.rot90(square, k=1, dims=(2, 3)), atol=1e-5)
    wide = 0.2 + 0.6 * torch.rand(3, 2, 6, 10, generator=_generator(1))
    half_turn = augment_module._rotation_theta(torch.full((3,), math.pi), 6, 10)
    assert torch.allclose(augment_module._warp(wide, half_turn, padding_mode="zeros"), wide.flip(2, 3), atol=1e-5)


def test_gaussian_noise_has_the_requested_standard_deviation():
    images = torch.full((64, 1, 8, 8), 0.5)
    noise_std = 0.05
    noise = gaussian_noise(images, generator=_generator(0), std=noise_std) - images
    # At 0.5 +- 10 sigma the clamp never acts, so the noise is Gaussian; the sample std of
    # m = 4096 draws has relative standard error 1 / sqrt(2 m).
    relative_stderr = 1 / math.sqrt(2 * noise.numel())
    assert abs(float(noise.std()) / noise_std - 1) < 5 * relative_stderr
    assert abs(float(noise.mean())) < 5 * noise_std / math.sqrt(noise.numel())


def test_two_views_differ_and_are_reproducible():
    pipeline = compose(RandomShift(1), RandomRotation(15.0))
    assert isinstance(pipeline, Augment)
    images = load_digits_images().images[:32]
    view_1, view_2 = pipeline.two_views(images, _generator(5))
    again_1, again_2 = pipeline.two_views(images, _generator(5))
    assert torch.equal(view_1, again_1) and torch.equal(view_2, again_2)
    assert not torch.equal(view_1, view_2)


@pytest.mark.parametrize(
    "bad_images",
    [
        torch.rand(8, 8),  # rank 2
        torch.randint(0, 255, (2, 1, 8, 8)),  # integer pixels
        torch.full((2, 1, 8, 8), 2.0),  # outside [0, 1]
        torch.full((2, 1, 8, 8), float("nan")),
        torch.empty(0, 1, 8, 8),
    ],
)
def test_augmentation_rejects_bad_images(bad_images):
    with pytest.raises(ValueError, match="images"):
        random_shift(bad_images, generator=_generator(0))
    with pytest.raises(ValueError, match="images"):
        default_augment(8)(bad_images, _generator(0))


def test_augmentation_rejects_bad_parameters():
    images = _mid_grey_images(n=2)
    with pytest.raises(ValueError, match="max_shift"):
        random_shift(images, generator=_generator(0), max_shift=-1)
    with pytest.raises(ValueError, match="probability"):
        random_erasing(images, generator=_generator(0), probability=1.5)
    with pytest.raises(ValueError, match="scale"):
        random_resized_crop(images, generator=_generator(0), scale=(0.8, 0.2))
    with pytest.raises(ValueError, match="std"):
        gaussian_noise(images, generator=_generator(0), std=-0.1)
    with pytest.raises(ValueError, match="steps"):
        Augment([RandomShift(1), "not a step"])


# --- encoders ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "channels, size, norm", [(1, 8, "batch"), (3, 32, "batch"), (3, 32, "group"), (1, 13, "group")]
)
def test_simclr_model_output_shapes(channels, size, norm):
    model = SimCLRModel(in_channels=channels, widths=(8, 16, 32), projection_dim=12, norm=norm)
    images = torch.rand(5, channels, size, size)
    assert model.features(images).shape == (5, 32) == (5, model.feature_dim)
    assert model(images).shape == (5, 12) == (5, model.projection_dim)
    assert isinstance(model.backbone, torch.nn.Module) and isinstance(model.head, torch.nn.Module)
    model.eval()
    assert model(images[:1]).shape == (1, 12)  # batch of one in eval mode


def test_simclr_model_trains_end_to_end():
    model = SimCLRModel(in_channels=1, widths=(8, 16), projection_dim=4)
    model(torch.rand(6, 1, 8, 8)).square().sum().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_encoder_rejects_bad_configuration_and_input():
    with pytest.raises(ValueError, match="in_channels"):
        SimCLRModel(in_channels=0)
    with pytest.raises(ValueError, match="norm"):
        SimCLRModel(norm="layer")
    with pytest.raises(ValueError, match="widths"):
        SimCLRModel(widths=())
    with pytest.raises(ValueError, match="images"):
        SimCLRModel(in_channels=1).features(torch.rand(2, 3, 8, 8))


# --- data ----------------------------------------------------------------------------------------


def test_load_digits_images_shapes_and_range():
    data = load_digits_images()
    assert data.images.shape == (1797, 1, 8, 8)
    assert data.images.dtype == torch.float32
    assert float(data.images.min()) == 0.0 and float(data.images.max()) == 1.0
    assert data.labels.shape == (1797,) and data.labels.dtype == torch.int64
    assert set(data.labels.tolist()) == set(range(10))
    assert data.class_names == tuple(str(k) for k in range(10))


@pytest.mark.parametrize(
    "array_shape, layout",
    [
        ((4, 8, 6), "auto"),
        ((4, 8, 6, 3), "auto"),
        ((4, 3, 8, 6), "auto"),
        ((4, 3, 8, 3), "nchw"),
        ((4, 3, 8, 3), "nhwc"),
    ],
)
def test_images_from_array_layouts(array_shape, layout):
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, size=array_shape).astype(np.uint8)
    data = images_from_array(pixels, layout=layout)
    channels_last = len(array_shape) == 4 and (layout == "nhwc" or (layout == "auto" and array_shape[3] == 3))
    if len(array_shape) == 3:
        expected = pixels[:, None]
    elif channels_last:
        expected = pixels.transpose(0, 3, 1, 2)
    else:
        expected = pixels
    assert data.images.dtype == torch.float32
    np.testing.assert_allclose(data.images.numpy(), expected / 255.0, rtol=1e-6)
    assert (data.labels == -1).all() and data.class_names == ()


def test_images_from_array_accepts_floats_tensors_and_labels():
    floats = np.linspace(0, 1, 2 * 8 * 8).reshape(2, 8, 8)
    data = images_from_array(torch.from_numpy(floats), labels=np.array([1, 0]))
    np.testing.assert_allclose(data.images[:, 0].numpy(), floats, rtol=1e-6)
    assert data.labels.tolist() == [1, 0] and data.class_names == ("0", "1")
    named = images_from_array(floats, labels=["dog", "cat"])
    assert named.labels.tolist() == [1, 0] and named.class_names == ("cat", "dog")


@pytest.mark.parametrize(
    "bad_array, message",
    [
        (np.zeros((0, 8, 8), dtype=np.uint8), "empty"),
        (np.zeros((8, 8), dtype=np.uint8), "rank"),
        (np.zeros((2, 1, 8, 8, 1), dtype=np.uint8), "rank"),
        (np.full((2, 8, 8), np.nan), "NaN"),
        (np.full((2, 8, 8), 255.0), r"\[0, 1\]"),
        (np.zeros((2, 8, 8), dtype=np.int64), "uint8"),
        (np.zeros((2, 3, 8, 3), dtype=np.uint8), "layout"),
        (np.zeros((2, 5, 8, 7), dtype=np.uint8), "layout"),
    ],
)
def test_images_from_array_rejects_bad_input(bad_array, message):
    with pytest.raises(ValueError, match="array") as error:
        images_from_array(bad_array)
    assert error.match(message)


def test_images_from_array_rejects_mismatched_labels():
    with pytest.raises(ValueError, match="labels"):
        images_from_array(np.zeros((3, 8, 8), dtype=np.uint8), labels=[0, 1])


def _save_png(path, pixels_uint8: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels_uint8).save(path)


def test_load_image_folder_with_class_subfolders(tmp_path):
    rng = np.random.default_rng(0)
    written = {}
    for class_name in ("cat", "dog"):
        for index in range(3):
            pixels = rng.integers(0, 256, size=(6, 5), dtype=np.uint8)
            _save_png(tmp_path / class_name / f"{index}.png", pixels)
            written[(class_name, index)] = pixels
    (tmp_path / "notes.txt").write_text("not an image")
    data = load_image_folder(tmp_path)
    assert data.images.shape == (6, 1, 6, 5) and data.images.dtype == torch.float32
    assert data.class_names == ("cat", "dog")
    assert data.labels.tolist() == [0, 0, 0, 1, 1, 1]
    np.testing.assert_allclose(data.images[4, 0].numpy(), written[("dog", 1)] / 255.0, atol=1e-6)


def test_load_image_folder_flat_and_channel_conversion(tmp_path):
    rng = np.random.default_rng(1)
    rgb = rng.integers(0, 256, size=(2, 4, 4, 3), dtype=np.uint8)
    for index, pixels in enumerate(rgb):
        _save_png(tmp_path / f"{index}.png", pixels)
    kept = load_image_folder(tmp_path)
    assert kept.images.shape == (2, 3, 4, 4) and (kept.labels == -1).all() and kept.class_names == ()
    np.testing.assert_allclose(kept.images.numpy(), rgb.transpose(0, 3, 1, 2) / 255.0, atol=1e-6)
    grey = load_image_folder(tmp_path, channels=1)
    expected_grey = (rgb / 255.0) @ np.array([0.299, 0.587, 0.114])
    np.testing.assert_allclose(grey.images[:, 0].numpy(), expected_grey, atol=1e-5)


def test_load_image_folder_rejects_bad_folders(tmp_path):
    with pytest.raises(ValueError, match="folder"):
        load_image_folder(tmp_path / "missing")
    with pytest.raises(ValueError, match="no image files"):
        load_image_folder(tmp_path)
    _save_png(tmp_path / "a.png", np.zeros((4, 4), dtype=np.uint8))
    _save_png(tmp_path / "b.png", np.zeros((5, 4), dtype=np.uint8))
    with pytest.raises(ValueError, match="resize"):
        load_image_folder(tmp_path)
    (tmp_path / "b.png").unlink()
    _save_png(tmp_path / "c.png", np.zeros((4, 4, 3), dtype=np.uint8))
    with pytest.raises(ValueError, match="channels=1"):
        load_image_folder(tmp_path)
    assert load_image_folder(tmp_path, channels=3).images.shape == (2, 3, 4, 4)
    _save_png(tmp_path / "sub" / "d.png", np.zeros((4, 4), dtype=np.uint8))
    with pytest.raises(ValueError, match="both"):
        load_image_folder(tmp_path)


# --- linear CKA ----------------------------------------------------------------------------------


def _random_orthogonal(dim: int, rng: np.random.Generator) -> np.ndarray:
    q, r = np.linalg.qr(rng.standard_normal((dim, dim)))
    return q * np.sign(np.diag(r))


def _cka_by_hsic(a: np.ndarray, b: np.ndarray) -> float:
    """Reference: HSIC form with explicit centring matrix H, Kornblith et al. (2019) eq. 3."""
    n = a.shape[0]
    centring = np.eye(n) - np.ones((n, n)) / n
    gram_a, gram_b = centring @ a @ a.T @ centring, centring @ b @ b.T @ centring
    return float(np.sum(gram_a * gram_b) / (np.linalg.norm(gram_a) * np.linalg.norm(gram_b)))


@pytest.mark.parametrize("n_rows, dim_a, dim_b", [(50, 6, 4), (10, 30, 20)])  # feature and Gram code paths
def test_linear_cka_identities(n_rows, dim_a, dim_b):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n_rows, dim_a))
    b = a[:, :dim_b] @ rng.standard_normal((dim_b, dim_b)) + 0.5 * rng.standard_normal((n_rows, dim_b))
    cka = linear_cka(a, b)
    assert linear_cka(a, a) == pytest.approx(1.0, abs=1e-12)
    assert cka == pytest.approx(linear_cka(b, a), abs=1e-12)
    assert cka == pytest.approx(_cka_by_hsic(a, b), abs=1e-12)
    assert linear_cka(a, a @ _random_orthogonal(dim_a, rng)) == pytest.approx(1.0, abs=1e-12)
    assert linear_cka(a @ _random_orthogonal(dim_a, rng), b) == pytest.approx(cka, abs=1e-12)
    assert linear_cka(3.7 * a, b) == pytest.approx(cka, abs=1e-12)
    assert linear_cka(a + 5.0, b - 2.0) == pytest.approx(cka, abs=1e-12)  # centred
    assert linear_cka(torch.from_numpy(a), torch.from_numpy(b)) == pytest.approx(cka, abs=1e-12)
    # Non-isotropic scaling is not an invariance, so the identities above are not vacuous.
    assert linear_cka(a, a * np.linspace(0.1, 10, dim_a)) < 0.99


@pytest.mark.parametrize("n_rows", [40, 5])  # feature and Gram code paths (n_rows < dim)
def test_linear_cka_of_a_rescaled_orthonormal_basis(n_rows):
    """Exact value: for centred A with orthonormal columns, ||A^T A D||_F^2 / (||A^T A||_F ||D A^T A D||_F)
    gives CKA(A, A D) = sum d^2 / (sqrt(p) sqrt(sum d^4)) for diagonal D."""
    rng = np.random.default_rng(1)
    dim = 4 if n_rows > 4 else 3
    centred = rng.standard_normal((n_rows, dim))
    centred -= centred.mean(axis=0)
    basis = np.linalg.qr(centred)[0][:, :dim]  # orthonormal columns spanning centred data: still centred
    scales = np.array([0.3, 1.0, 2.0, 5.0])[:dim]
    expected = (scales**2).sum() / (math.sqrt(dim) * math.sqrt((scales**4).sum()))
    assert linear_cka(basis, basis * scales) == pytest.approx(expected, abs=1e-12)
    # wide second argument: padding B with zero columns changes nothing
    padded = np.hstack([basis * scales, np.zeros((n_rows, 7))])
    assert linear_cka(basis, padded) == pytest.approx(expected, abs=1e-12)


def test_linear_cka_rejects_bad_input():
    with pytest.raises(ValueError, match="rows"):
        linear_cka(np.ones((5, 2)) + np.arange(5)[:, None], np.ones((4, 2)))
    with pytest.raises(ValueError, match="constant"):
        linear_cka(np.random.default_rng(0).standard_normal((5, 2)), np.ones((5, 2)))
    with pytest.raises(ValueError, match="NaN"):
        linear_cka(np.full((5, 2), np.nan), np.ones((5, 2)))
    with pytest.raises(ValueError, match="2-D"):
        linear_cka(np.ones(5), np.ones((5, 2)))


# --- alignment and uniformity --------------------------------------------------------------------


def _unit_circle(degrees) -> np.ndarray:
    radians = np.deg2rad(np.asarray(degrees, dtype=float))
    return np.stack([np.cos(radians), np.sin(radians)], axis=1)


def test_alignment_on_hand_made_pairs():
    # Pairs at 0, 180 and 90 degrees apart: distances 0, 2 and sqrt(2).
    z1 = _unit_circle([0, 30, 200])
    z2 = _unit_circle([0, 210, 290])
    assert alignment(z1, z2, alpha=2) == pytest.approx((0 + 4 + 2) / 3, abs=1e-12)
    assert alignment(z1, z2, alpha=1) == pytest.approx((0 + 2 + math.sqrt(2)) / 3, abs=1e-12)
    # Features are L2-normalised first, so per-row scale does not matter.
    scales = np.array([[3.0], [0.5], [7.0]])
    assert alignment(scales * z1, z2 / scales, alpha=2) == pytest.approx(2.0, abs=1e-12)
    assert alignment(torch.from_numpy(z1), torch.from_numpy(z2)) == pytest.approx(2.0, abs=1e-12)


def test_uniformity_on_hand_made_points():
    # Three points 120 degrees apart: every chord has squared length 3.
    triangle = _unit_circle([10, 130, 250])
    assert uniformity(triangle, t=2) == pytest.approx(-6.0, abs=1e-12)
    assert uniformity(5.0 * triangle, t=1) == pytest.approx(-3.0, abs=1e-12)
    # Square: 4 sides of squared length 2 and 2 diagonals of squared length 4.
    square = _unit_circle([0, 90, 180, 270])
    expected = math.log((4 * math.exp(-2 * 2) + 2 * math.exp(-2 * 4)) / 6)
    assert uniformity(square, t=2) == pytest.approx(expected, abs=1e-12)
    # Identical points: every distance is 0.
    assert uniformity(np.ones((4, 3)), t=2) == pytest.approx(0.0, abs=1e-12)


def test_uniformity_blocks_match_direct_computation(monkeypatch):
    rng = np.random.default_rng(0)
    points = rng.standard_normal((11, 4))
    unit = points / np.linalg.norm(points, axis=1, keepdims=True)
    i, j = np.triu_indices(11, k=1)
    direct = math.log(np.mean(np.exp(-2 * np.sum((unit[i] - unit[j]) ** 2, axis=1))))
    monkeypatch.setattr(metrics_module, "_UNIFORMITY_BLOCK_ROWS", 3)
    assert uniformity(points, t=2) == pytest.approx(direct, abs=1e-12)


def test_alignment_and_uniformity_reject_bad_input():
    with pytest.raises(ValueError, match="z1"):
        alignment(np.zeros((2, 2)), np.ones((2, 2)))
    with pytest.raises(ValueError, match="shape"):
        alignment(np.ones((2, 2)), np.ones((3, 2)))
    with pytest.raises(ValueError, match="alpha"):
        alignment(np.ones((2, 2)), np.ones((2, 2)), alpha=0)
    with pytest.raises(ValueError, match="z"):
        uniformity(np.ones((1, 2)))
    with pytest.raises(ValueError, match="t must"):
        uniformity(np.ones((3, 2)), t=-1)


# --- linear probe --------------------------------------------------------------------------------


def _blobs(n_per_class: int, n_classes: int, dim: int, separation: float, rng: np.random.Generator):
    means = separation * np.eye(n_classes, dim)
    labels = np.repeat(np.arange(n_classes), n_per_class)
    features = means[labels] + rng.standard_normal((labels.size, dim))
    return features, labels


def test_linear_probe_is_near_perfect_on_separable_data():
    rng = np.random.default_rng(0)
    train_x, train_y = _blobs(100, 3, 5, separation=10.0, rng=rng)
    test_x, test_y = _blobs(100, 3, 5, separation=10.0, rng=rng)
    # Class means 10 * sqrt(2) apart in unit noise: the Bayes error per point is about Phi(-7) ~ 1e-12.
    assert linear_probe_accuracy(train_x, train_y, test_x, test_y) >= 0.99
    accuracies = linear_probe_topk(train_x, train_y, torch.from_numpy(test_x), test_y, ks=(1, 2, 3))
    assert accuracies[1] <= accuracies[2] <= accuracies[3] == 1.0
    names = np.array(["a", "b", "c"])
    assert linear_probe_accuracy(train_x, names[train_y], test_x, names[test_y]) >= 0.99


def test_linear_probe_is_at_chance_on_shuffled_labels():
    rng = np.random.default_rng(1)
    n_classes, n_per_class = 4, 100
    train_x, train_y = _blobs(n_per_class, n_classes, 5, separation=3.0, rng=rng)
    test_x, test_y = _blobs(n_per_class, n_classes, 5, separation=3.0, rng=rng)
    # Permuting balanced test labels makes each hit a 1/C event whatever the probe predicts.
    accuracy = linear_probe_accuracy(train_x, rng.permutation(train_y), test_x, rng.permutation(test_y))
    chance = 1 / n_classes
    binomial_stderr = math.sqrt(chance * (1 - chance) / test_y.size)
    assert abs(accuracy - chance) < 4 * binomial_stderr


def test_linear_probe_rejects_bad_input():
    rng = np.random.default_rng(2)
    x, y = _blobs(10, 2, 3, separation=3.0, rng=rng)
    with pytest.raises(ValueError, match="train_labels"):
        linear_probe_accuracy(x, y[:-1], x, y)
    with pytest.raises(ValueError, match="2 classes"):
        linear_probe_accuracy(x, np.zeros_like(y), x, y)
    with pytest.raises(ValueError, match="ks"):
        linear_probe_accuracy(x, y, x, y, k=3)
    with pytest.raises(ValueError, match="columns"):
        linear_probe_accuracy(x, y, x[:, :2], y)
