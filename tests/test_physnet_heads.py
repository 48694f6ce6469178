"""gamma-PhysNet's translation-invariant head options: the voting direction head (the layer against a
naive loop, its frame) and the pooled particle head."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from showerlearn.geometry import LST_EQUIVALENT_FOCAL_LENGTH, Lattice, lst_camera
from showerlearn.models.gamma_physnet import GammaPhysNet
from showerlearn.nn import LatticeVote
from showerlearn.simulation.camera import simulated_camera

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
    with pytest.raises(ValueError, match="'flatten' or 'vote'"):
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
