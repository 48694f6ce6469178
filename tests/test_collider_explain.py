"""The statistics behind the collider explanation figures: per-class mean attention maps over real cells
only, and Grad-CAM / pT jet images, against direct loops over the events."""

from __future__ import annotations

import numpy as np

from showerlearn.collider.explain.summary import JetImages, MeanMaps


def test_mean_maps_average_each_cell_over_the_events_where_it_is_real() -> None:
    rng = np.random.default_rng(0)
    maps, labels = rng.random((30, 4, 5)), rng.integers(0, 2, 30)
    query_real, key_real = rng.random((30, 4)) < 0.7, rng.random((30, 5)) < 0.7
    real = query_real[:, :, None] & key_real[:, None, :]
    means = MeanMaps(2, (4, 5))
    for part in np.array_split(np.arange(30), 3):  # batch by batch
        means.add(maps[part], real[part], labels[part])
    for label in (0, 1):
        for q in range(4):
            for k in range(5):
                cell = [maps[e, q, k] for e in range(30) if labels[e] == label and real[e, q, k]]
                expected = np.mean(cell) if cell else np.nan
                np.testing.assert_allclose(means.mean()[label, q, k], expected, equal_nan=True)


def test_jet_images_are_per_event_normalised_maps_histogrammed_per_jet() -> None:
    rng = np.random.default_rng(1)
    n, tokens = 8, 6
    deta, dphi = rng.uniform(-0.9, 0.9, (n, tokens)), rng.uniform(-0.9, 0.9, (n, tokens))
    jet, share = rng.integers(0, 2, (n, tokens)), rng.random((n, tokens))
    cam, real, labels = rng.random((n, tokens)), rng.random((n, tokens)) < 0.8, rng.integers(0, 2, n)
    images = JetImages(2, n_jets=2, radius=1.0, bins=4)
    images.add(deta, dphi, jet, share, cam, real, labels)
    gradcam, pt = images.means()
    edges = np.linspace(-1, 1, 5)
    for label in (0, 1):
        events = np.flatnonzero(labels == label)
        expected_cam, expected_pt = np.zeros((2, 4, 4)), np.zeros((2, 4, 4))
        for e in events:
            weights = np.where(real[e], cam[e], 0.0) / np.where(real[e], cam[e], 0.0).sum()
            for t in np.flatnonzero(real[e]):
                i, j = np.digitize(deta[e, t], edges) - 1, np.digitize(dphi[e, t], edges) - 1
                expected_cam[jet[e, t], i, j] += weights[t] / len(events)
                expected_pt[jet[e, t], i, j] += share[e, t] / len(events)
        np.testing.assert_allclose(gradcam[label], expected_cam, atol=1e-12)
        np.testing.assert_allclose(pt[label], expected_pt, atol=1e-12)
    # each event's Grad-CAM adds up to 1 over its jets' images
    np.testing.assert_allclose(gradcam.sum(axis=(1, 2, 3)), 1.0)
