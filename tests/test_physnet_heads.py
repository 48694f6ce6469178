"""gamma-PhysNet's head options: the voting direction head (the layer against a naive loop, its frame),
the image moments (against ctapipe's Hillas parameters) with the axis direction head, and the pooled
particle head."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
import torch

from showerlearn.iact.geometry import LST_EQUIVALENT_FOCAL_LENGTH, Lattice, lst_camera
from showerlearn.iact.models.gamma_physnet import GammaPhysNet
from showerlearn.iact.nn import MOMENT_FEATURES, ImageMoments, LatticeVote
from showerlearn.iact.simulation.camera import simulated_camera

TINY = {"depth": 8, "widths": (4, 8, 16), "fc_width": 16}


def test_vote_matches_a_naive_weighted_average() -> None:
    generator = torch.Generator().manual_seed(0)
    positions = np.random.default_rng(1).normal(size=(7, 2))
    vote = LatticeVote(5, positions)
    torch.nn.init.normal_(vote.proposal.weight, generator=generator)
    features = torch.randn(3, 5, 7, generator=generator)
    out = vote(features).detach().numpy()
    weight, bias = vote.proposal.weight[:, :, 0].detach().numpy(), vote.proposal.bias.detach().numpy()
    for b in range(3):
        proposals = [weight @ features[b, :, i].numpy() + bias for i in range(7)]
        logits = np.array([p[0] for p in proposals])
        relevance = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
        expected = sum(relevance[i] * (positions[i] + proposals[i][1:]) for i in range(7))
        np.testing.assert_allclose(out[b], expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(vote.last_weights.sum(dim=1).numpy(), 1.0, rtol=1e-6)


def test_untrained_vote_is_the_centroid_and_one_dominant_pixel_wins() -> None:
    positions = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0]])
    vote = LatticeVote(1, positions)
    features = torch.tensor([[[0.0, 1.0, 0.0]]])
    np.testing.assert_allclose(vote(features).detach().numpy()[0], positions.mean(axis=0), atol=1e-6)
    with torch.no_grad():
        vote.proposal.weight[0, 0, 0] = 100.0  # relevance follows the feature: pixel 1 takes all
        vote.proposal.bias[1] = 0.25  # every pixel proposes 0.25 to the right of itself
    np.testing.assert_allclose(vote(features).detach().numpy()[0], [1.25, 0.0], atol=1e-5)


def test_vote_rejects_bad_positions_and_feature_shapes() -> None:
    with pytest.raises(ValueError, match=r"\(n_pixels, 2\)"):
        LatticeVote(4, np.zeros((5, 3)))
    with pytest.raises(ValueError, match="vote lattice has 5"):
        LatticeVote(4, np.zeros((5, 2)))(torch.zeros(1, 4, 6))


def test_gamma_physnet_votes_in_the_frame_of_the_direction_targets() -> None:
    """The voting pixels sit where the simulator renders light for a source at their position."""
    camera = lst_camera()
    lattice = Lattice.from_camera(camera)
    model = GammaPhysNet(
        lattice, direction_head="vote", camera=camera, focal_length=LST_EQUIVALENT_FOCAL_LENGTH, **TINY
    ).eval()
    out = model.backbone.out_lattice
    full = Lattice.from_camera(camera)
    kept = [int(np.argmin((full.x - x) ** 2 + (full.y - y) ** 2)) for x, y in zip(out.x, out.y, strict=True)]
    simulated = simulated_camera()
    expected = np.column_stack([simulated.fov_lon[kept], simulated.fov_lat[kept]])
    np.testing.assert_allclose(model.direction_head.positions.numpy().T, expected, atol=1e-5)
    # untrained: every pixel votes for itself with equal weight
    direction = model(torch.randn(2, 2, lattice.n_pixels))["direction"].detach().numpy()
    np.testing.assert_allclose(direction, np.broadcast_to(expected.mean(axis=0), (2, 2)), atol=1e-5)


def test_vote_needs_the_camera_and_focal_length() -> None:
    lattice = Lattice.from_camera(lst_camera())
    with pytest.raises(ValueError, match="needs the camera and its focal length"):
        GammaPhysNet(lattice, direction_head="vote", **TINY)
    with pytest.raises(ValueError, match="needs the camera and its focal length"):
        GammaPhysNet(lattice, image_moments=True, **TINY)
    with pytest.raises(ValueError, match="'flatten', 'vote' or 'axis'"):
        GammaPhysNet(lattice, direction_head="hough", **TINY)  # type: ignore[arg-type]


def test_pooled_particle_head_ignores_where_the_features_are() -> None:
    """``particle_head="pool"``: the class logits depend on the last stage's features, not on their positions."""
    lattice = Lattice.from_camera(lst_camera())
    torch.manual_seed(0)
    model = GammaPhysNet(lattice, particle_head="pool", **TINY).eval()
    features = torch.rand(3, 16, model.backbone.out_lattice.n_pixels)
    shuffled = features[:, :, torch.randperm(features.shape[2])]
    outputs = []
    for maps in (features, shuffled):
        handle = model.backbone.register_forward_hook(lambda _m, _i, _o, maps=maps: maps)
        outputs.append(model(torch.zeros(3, 2, lattice.n_pixels)))
        handle.remove()
    torch.testing.assert_close(outputs[0]["particle"], outputs[1]["particle"])
    assert not torch.allclose(outputs[0]["impact"], outputs[1]["impact"])  # the local path does see positions
    with pytest.raises(ValueError, match="'flatten' or 'pool'"):
        GammaPhysNet(lattice, particle_head="attention", **TINY)  # type: ignore[arg-type]


def _toy_images(geometry, n: int, seed: int, edge: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Cleaned-looking toy showers (ctapipe's Gaussian toy model) with a linear time gradient plus noise;
    ``edge``: centred near the camera's edge (LSTCam: ~2.2 deg radius)."""
    from ctapipe.image import toymodel

    rng = np.random.default_rng(seed)
    charges, times = [], []
    for _ in range(n):
        angle = rng.uniform(0, 2 * np.pi)
        x, y = (2.1 * np.cos(angle), 2.1 * np.sin(angle)) if edge else rng.uniform(-1.5, 1.5, 2)
        model = toymodel.Gaussian(
            x=x * u.deg, y=y * u.deg, width=rng.uniform(0.03, 0.08) * u.deg, length=rng.uniform(0.1, 0.4) * u.deg,
            psi=rng.uniform(-180, 180) * u.deg,
        )
        image, _, _ = model.generate_image(geometry, intensity=rng.uniform(200, 3000), nsb_level_pe=2, rng=rng)
        image[image < 5] = 0  # a crude cleaning: the moments use the positive charges only
        times.append(rng.normal(0, 0.3, geometry.n_pixels) + rng.normal(0, 5) * geometry.pix_x.to_value(u.deg))
        charges.append(image)
    return np.array(charges), np.array(times)


def test_image_moments_are_ctapipes_hillas_parameters_and_a_weighted_time_fit() -> None:
    from ctapipe.coordinates import CameraFrame, TelescopeFrame
    from ctapipe.image import hillas_parameters, leakage_parameters

    geometry = lst_camera()
    geometry.frame = CameraFrame(focal_length=LST_EQUIVALENT_FOCAL_LENGTH)
    geometry = geometry.transform_to(TelescopeFrame())
    positions = np.column_stack([geometry.pix_x.to_value(u.deg), geometry.pix_y.to_value(u.deg)])
    charges, times = _toy_images(geometry, 6, seed=2)
    charges[:3] = _toy_images(geometry, 3, seed=5, edge=True)[0]  # showers the camera's edge cuts
    layer = ImageMoments(positions, border=np.stack([geometry.get_border_pixel_mask(1), geometry.get_border_pixel_mask(2)]))
    features = layer(torch.tensor(np.stack([charges, times], axis=1), dtype=torch.float32)).double().numpy()
    column = {name: features[:, i] for i, name in enumerate(MOMENT_FEATURES)}
    for i, (charge, time) in enumerate(zip(charges, times, strict=True)):
        hillas = hillas_parameters(geometry, charge)
        expected_axis = np.array([np.cos(hillas.psi.to_value(u.rad)), np.sin(hillas.psi.to_value(u.rad))])
        np.testing.assert_allclose(column["log10_intensity"][i], np.log10(hillas.intensity), rtol=1e-5)
        np.testing.assert_allclose([column["x"][i], column["y"][i]], [hillas.fov_lon.value, hillas.fov_lat.value], atol=2e-5)
        np.testing.assert_allclose([column["axis_x"][i], column["axis_y"][i]], expected_axis, atol=1e-4)
        np.testing.assert_allclose([column["length"][i], column["width"][i]], [hillas.length.value, hillas.width.value], rtol=2e-4)
        np.testing.assert_allclose([column["skewness"][i], column["kurtosis"][i]], [hillas.skewness, hillas.kurtosis], rtol=2e-3, atol=2e-4)
        lit = charge > 0  # slope of the charge-weighted least-squares line of time along the axis
        along = (positions[lit] - [column["x"][i], column["y"][i]]) @ expected_axis
        slope = np.polyfit(along, time[lit], 1, w=np.sqrt(charge[lit]))[0]
        np.testing.assert_allclose(column["time_slope"][i], slope, rtol=1e-3)
        leakage = leakage_parameters(geometry, charge, charge > 0)
        np.testing.assert_allclose(column["leakage_intensity_width_1"][i], leakage.intensity_width_1, atol=1e-6)
        np.testing.assert_allclose(column["leakage_intensity_width_2"][i], leakage.intensity_width_2, atol=1e-6)
    assert np.all(column["leakage_intensity_width_2"][:3] > 0.05)  # the edge showers do leak
    assert np.all(column["axis_x"] >= 0)  # ctapipe's psi in (-90, 90] deg


def test_axis_head_starts_at_the_centroid_and_measures_along_the_main_axis() -> None:
    camera = lst_camera()
    lattice = Lattice.from_camera(camera)
    model = GammaPhysNet(
        lattice, direction_head="axis", image_moments=True, camera=camera, focal_length=LST_EQUIVALENT_FOCAL_LENGTH, **TINY
    ).eval()
    # the moments live on the pixels the simulator renders (camera order), in the frame of the direction targets
    simulated = simulated_camera()
    expected_positions = np.column_stack([simulated.fov_lon, simulated.fov_lat])
    np.testing.assert_allclose(model.moments.positions.numpy().T, expected_positions, atol=1e-5)
    inputs = torch.zeros(2, 2, lattice.n_pixels)
    rng = np.random.default_rng(0)
    for b in range(2):
        lit = rng.choice(lattice.n_pixels, 40, replace=False)
        inputs[b, 0, lit] = torch.tensor(rng.uniform(1, 5, 40), dtype=torch.float32)
    charge = inputs[:, 0].numpy()
    centroid = charge @ expected_positions / charge.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(model(inputs)["direction"].detach().numpy(), centroid, atol=1e-5)
    moments = model.moments(inputs).numpy()
    axis = moments[:, 3:5]
    normal = np.column_stack([-axis[:, 1], axis[:, 0]])
    for side, sign in ((3.0, 1.0), (-0.1, -1.0)):  # the side is hard: any negative logit puts it behind
        with torch.no_grad():
            model.direction_head[-1].bias.copy_(torch.tensor([0.5, side, -0.2]))  # 0.5 deg along, 0.2 across
        expected = centroid + sign * 0.5 * axis - 0.2 * normal
        np.testing.assert_allclose(model(inputs)["direction"].detach().numpy(), expected, atol=1e-5)

    # the disp terms of the loss, against the true source measured from the same centroid and axis
    source = centroid + np.array([[0.8], [-0.3]]) * axis + np.array([[0.1], [0.0]]) * normal
    terms = model.head_loss_terms({"direction": torch.tensor(source, dtype=torch.float32)})["direction"].detach().numpy()
    bce_behind_true_ahead = np.log1p(np.exp(0.1))  # side logit -0.1, source ahead (event 0)
    bce_behind_true_behind = np.log1p(np.exp(-0.1))  # source behind (event 1)
    expected_terms = [abs(0.5 - 0.8) + bce_behind_true_ahead + abs(-0.2 - 0.1), abs(0.5 - 0.3) + bce_behind_true_behind + abs(-0.2 - 0.0)]
    np.testing.assert_allclose(terms, expected_terms, rtol=1e-4)
    assert GammaPhysNet(lattice, **TINY).head_loss_terms({"direction": torch.zeros(2, 2)}) == {}


def test_particle_head_reads_the_reconstructed_disp_without_training_it() -> None:
    """With the axis head the class logits see the energy and disp (as lstchain's classifier), detached."""
    camera = lst_camera()
    lattice = Lattice.from_camera(camera)
    torch.manual_seed(0)
    model = GammaPhysNet(
        lattice, direction_head="axis", particle_head="pool", camera=camera, focal_length=LST_EQUIVALENT_FOCAL_LENGTH, **TINY
    ).eval()
    inputs = torch.rand(4, 2, lattice.n_pixels)
    with torch.no_grad():
        model.direction_head[-1].bias.copy_(torch.tensor([0.5, 1.0, 0.0]))
    before = model(inputs)["particle"]
    with torch.no_grad():
        model.direction_head[-1].bias.copy_(torch.tensor([0.5, -1.0, 0.0]))  # the other side
    after = model(inputs)["particle"]
    assert not torch.allclose(before, after)
    after.sum().backward()
    assert all(p.grad is None or torch.all(p.grad == 0) for p in model.direction_head.parameters())
    assert all(p.grad is None or torch.all(p.grad == 0) for p in model.energy_head.parameters())


def test_only_the_disp_terms_train_the_distance() -> None:
    """The loss on the direction itself trains the offset across, never the distance along the axis:
    on wrong-side events it would pull the distance towards the centroid."""
    camera = lst_camera()
    lattice = Lattice.from_camera(camera)
    torch.manual_seed(0)
    model = GammaPhysNet(
        lattice, direction_head="axis", camera=camera, focal_length=LST_EQUIVALENT_FOCAL_LENGTH, **TINY
    ).eval()
    inputs = torch.rand(4, 2, lattice.n_pixels)
    last = model.direction_head[-1]
    model(inputs)["direction"].sum().backward()
    distance, side, across = last.weight.grad.abs().sum(dim=1)
    assert distance == 0 and side == 0 and across > 0
    model.zero_grad()
    model(inputs)
    model.head_loss_terms({"direction": torch.randn(4, 2)})["direction"].sum().backward()
    assert torch.all(last.weight.grad.abs().sum(dim=1) > 0)


def test_moments_of_a_mask_channel_are_those_of_the_masked_image() -> None:
    """With ``cleaning.as: channel`` the network sees every pixel, and the moments only the cleaned ones."""
    camera = lst_camera()
    rng = np.random.default_rng(3)
    positions = np.column_stack([camera.pix_x.to_value("m"), camera.pix_y.to_value("m")])
    charge = rng.normal(2, 3, (4, camera.n_pixels))  # noise, some of it negative, everywhere
    time = rng.normal(0, 1, (4, camera.n_pixels))
    mask = rng.random((4, camera.n_pixels)) < 0.1
    unmasked = torch.tensor(np.stack([charge, time, mask], axis=1), dtype=torch.float32)
    masked = torch.tensor(np.stack([charge * mask, time * mask], axis=1), dtype=torch.float32)
    torch.testing.assert_close(ImageMoments(positions, mask_channel=2)(unmasked), ImageMoments(positions)(masked))
    assert not torch.allclose(ImageMoments(positions)(unmasked), ImageMoments(positions)(masked))
    lattice = Lattice.from_camera(camera)
    with pytest.raises(ValueError, match="moments_mask_channel must name an extra input channel"):
        GammaPhysNet(lattice, image_moments=True, moments_mask_channel=2, camera=camera, focal_length=LST_EQUIVALENT_FOCAL_LENGTH, **TINY)
    with pytest.raises(ValueError, match="moments_mask_channel needs image_moments"):
        GammaPhysNet(lattice, in_channels=3, moments_mask_channel=2, **TINY)


def test_the_moments_find_the_mask_channel_the_data_names() -> None:
    """``moments_mask_channel: auto`` (the default) weighs the moments by the channel the DataModule calls the
    cleaning mask: moments of the uncleaned image would weigh the night-sky noise of every pixel."""
    camera = lst_camera()
    lattice, focal = Lattice.from_camera(camera), LST_EQUIVALENT_FOCAL_LENGTH
    whole_image = GammaPhysNet(lattice, in_channels=3, image_moments=True, camera=camera, focal_length=focal,
                               channel_names=("charge", "peak_time", "cleaning_mask"), **TINY)
    assert whole_image.moments.mask_channel == 2
    cleaned = GammaPhysNet(lattice, image_moments=True, camera=camera, focal_length=focal,
                           channel_names=("charge", "peak_time"), **TINY)
    assert cleaned.moments.mask_channel is None
    every_pixel = GammaPhysNet(lattice, in_channels=3, image_moments=True, moments_mask_channel=None, camera=camera,
                               focal_length=focal, channel_names=("charge", "peak_time", "cleaning_mask"), **TINY)
    assert every_pixel.moments.mask_channel is None
    assert GammaPhysNet(lattice, in_channels=3, channel_names=("charge", "peak_time", "cleaning_mask"), **TINY).moments is None


def test_moments_of_a_log1p_charge_are_those_of_the_charge() -> None:
    """With ``transforms.charge: log1p`` (the default) the moments weigh pixels by the charges the channel came
    from, as Hillas does, not by their logarithms (which doubled the width of an LST image)."""
    camera = lst_camera()
    rng = np.random.default_rng(4)
    positions = np.column_stack([camera.pix_x.to_value("m"), camera.pix_y.to_value("m")])
    charge = np.where(rng.random((3, camera.n_pixels)) < 0.05, rng.exponential(50, (3, camera.n_pixels)), 0.0)
    time = rng.normal(0, 1, (3, camera.n_pixels))
    raw = torch.tensor(np.stack([charge, time], axis=1), dtype=torch.float32)
    logged = torch.tensor(np.stack([np.log1p(charge), time], axis=1), dtype=torch.float32)
    torch.testing.assert_close(ImageMoments(positions, charge_log1p=True)(logged), ImageMoments(positions)(raw),
                               rtol=1e-4, atol=1e-5)  # fmt: skip
    assert not torch.allclose(ImageMoments(positions)(logged), ImageMoments(positions)(raw), rtol=1e-2)
    network = GammaPhysNet(Lattice.from_camera(camera), image_moments=True, camera=camera,
                           focal_length=LST_EQUIVALENT_FOCAL_LENGTH, charge_transform="log1p", **TINY)  # fmt: skip
    assert network.moments.charge_log1p
