"""Token preprocessing: jet alignment against hand-made jets, and a standardisation learned from the
training split only, with ordering, truncation, padding, the key padding mask and saved parameters."""

from __future__ import annotations

from pathlib import Path

import awkward as ak
import numpy as np
import pytest

from showerlearn.collider.data import JetAlignment, TokenPreprocessor

WEIGHTS = np.array([5.0, 3.0, 1.0, 1.0])
ALONG = np.array([-0.3, -0.1, 0.1, 0.2])  # positions along the jet's principal axis; more pT at negative values


def _jet(angle: float, offset: tuple[float, float] = (0.0, 0.0), jet_index: int = 0) -> list[dict[str, float]]:
    """Four constituents on a line through ``offset`` at ``angle`` to the delta-eta axis."""
    x, y = offset[0] + ALONG * np.cos(angle), offset[1] + ALONG * np.sin(angle)
    return [
        {"pt": w, "deta": a, "dphi": b, "jet_index": jet_index, "dr": float(np.hypot(a, b)), "charge": 0}
        for w, a, b in zip(WEIGHTS, x, y, strict=True)
    ]


@pytest.mark.parametrize("angle", [0.0, 0.4, np.pi / 2, 2.5, -1.2])
def test_alignment_turns_the_principal_axis_vertical_and_the_heavier_side_up(angle: float) -> None:
    aligned = JetAlignment()(ak.Array([_jet(angle)]))
    # whatever the input orientation: on the vertical axis, the 5 GeV end at positive delta phi
    np.testing.assert_allclose(ak.to_numpy(aligned.deta[0]), 0.0, atol=1e-12)
    np.testing.assert_allclose(ak.to_numpy(aligned.dphi[0]), -ALONG, atol=1e-12)
    np.testing.assert_allclose(ak.to_numpy(aligned.dr[0]), np.abs(ALONG), atol=1e-12)


def test_alignment_centres_on_the_centroid_and_treats_each_jet_alone() -> None:
    tokens = ak.Array([_jet(0.7, offset=(0.5, -0.2), jet_index=0) + _jet(-0.3, jet_index=1)])
    aligned = JetAlignment(centre="centroid")(tokens)
    centroid = np.sum(WEIGHTS * ALONG) / WEIGHTS.sum()
    for index in (0, 1):
        mine = aligned[aligned.jet_index == index][0]
        np.testing.assert_allclose(ak.to_numpy(mine.deta), 0.0, atol=1e-12)
        assert np.sum(WEIGHTS * ak.to_numpy(mine.dphi)) == pytest.approx(
            0.0, abs=1e-12
        )  # centred on the pT-weighted centroid
        np.testing.assert_allclose(np.abs(ak.to_numpy(mine.dphi)), np.abs(ALONG - centroid), atol=1e-12)


def test_alignment_without_rotation_or_flip_keeps_the_input() -> None:
    tokens = ak.Array([_jet(0.4)])
    same = JetAlignment(rotate=False, flip=False)(tokens)
    np.testing.assert_allclose(ak.to_numpy(same.deta[0]), ak.to_numpy(tokens.deta[0]))


def _events(seed: int, n_events: int, shift: float = 0.0) -> ak.Array:
    rng = np.random.default_rng(seed)
    counts = rng.integers(1, 9, n_events)
    n = int(counts.sum())
    flat = {
        "pt": rng.exponential(20.0, n) + shift, "deta": rng.normal(0, 0.3, n), "dphi": rng.normal(0, 0.3, n),
        "charge": rng.integers(-1, 2, n), "jet_index": rng.integers(0, 2, n),
    }  # fmt: skip
    return ak.unflatten(ak.zip(flat), counts)


FEATURES = ["pt", "deta", "dphi", "charge"]


def test_standardisation_comes_from_the_training_split_only() -> None:
    train, test = _events(1, 200), _events(2, 100, shift=50.0)
    preprocessor = TokenPreprocessor(FEATURES, n_tokens=5, alignment=None).fit(train)
    kept = train[ak.argsort(train.pt, axis=1, ascending=False)][:, :5]  # the tokens the network sees
    for name in ("pt", "deta", "dphi"):
        values = ak.to_numpy(ak.flatten(kept[name]))
        assert preprocessor.mean_[name] == pytest.approx(values.mean()) and preprocessor.std_[name] == pytest.approx(
            values.std()
        )
    assert "charge" not in preprocessor.mean_  # categorical: left as is
    before = dict(preprocessor.mean_)
    out = preprocessor.transform(test)  # transforming other data learns nothing from it
    assert preprocessor.mean_ == before
    first = test[0][ak.argsort(test[0].pt, ascending=False)]
    assert out.features[0, 0, 0] == pytest.approx((first.pt[0] - before["pt"]) / preprocessor.std_["pt"], rel=1e-5)
    assert out.features[..., 0][out.mask].mean() > 1.0  # the shifted test set stays shifted: no refit on it
    refit = TokenPreprocessor(FEATURES, n_tokens=5, alignment=None).fit(ak.concatenate([train, test]))
    assert refit.mean_["pt"] != pytest.approx(before["pt"])


def test_padding_truncation_order_and_mask() -> None:
    tokens = ak.Array([[{"pt": 1.0, "deta": 0.1, "dphi": 0.0, "charge": 1}, {"pt": 9.0, "deta": 0.2, "dphi": 0.1, "charge": -1}],
                       [{"pt": float(p), "deta": 0.0, "dphi": 0.0, "charge": 0} for p in (3, 7, 5, 4)]])  # fmt: skip
    preprocessor = TokenPreprocessor(FEATURES, n_tokens=3, standardize=[], alignment=None).fit(tokens)
    out = preprocessor.transform(tokens)
    assert out.features.shape == (2, 3, 4) and out.features.dtype == np.float32 and out.names == tuple(FEATURES)
    assert out.mask.tolist() == [[True, True, False], [True, True, True]]
    assert out.features[0, :, 0].tolist() == [9.0, 1.0, 0.0] and out.features[0, :, 3].tolist() == [-1.0, 1.0, 0.0]
    assert out.features[1, :, 0].tolist() == [7.0, 5.0, 4.0]  # the hardest three, in decreasing pT


def test_parameters_are_saved_and_loaded(tmp_path: Path) -> None:
    train = _events(3, 50)
    preprocessor = TokenPreprocessor(FEATURES, n_tokens=6, alignment=JetAlignment(centre="centroid")).fit(train)
    preprocessor.save(tmp_path / "preprocessing.json")
    loaded = TokenPreprocessor.load(tmp_path / "preprocessing.json")
    assert loaded.state() == preprocessor.state()
    np.testing.assert_array_equal(loaded.transform(train).features, preprocessor.transform(train).features)


def test_misuse_is_explained() -> None:
    with pytest.raises(RuntimeError, match="before fit"):
        TokenPreprocessor(FEATURES, n_tokens=2).transform(_events(4, 3))
    with pytest.raises(KeyError, match=r"no field 'energy'"):
        TokenPreprocessor([*FEATURES, "energy"], n_tokens=2).fit(_events(4, 3))
    with pytest.raises(ValueError, match="standardize names"):
        TokenPreprocessor(FEATURES, n_tokens=2, standardize=["mass"])
    # the fields the alignment reads are named too; a non-finite feature names itself and the first event
    without_jets = ak.Array([[{k: v for k, v in token.items() if k != "jet_index"} for token in _jet(0.3)]])
    with pytest.raises(KeyError, match=r"no field 'jet_index' \(alignment\)"):
        TokenPreprocessor(["pt"], n_tokens=2).fit(without_jets)
    logarithm = ak.Array([[{"log_pt": 0.0}], [{"log_pt": -np.inf}]])  # the log of a zero pT
    with pytest.raises(ValueError, match=r"'log_pt' is NaN or infinite in 1 event\(s\) \(the first: event 1\)"):
        TokenPreprocessor(["log_pt"], n_tokens=1, sort_by=None, standardize=[], alignment=None).fit_transform(logarithm)
    with pytest.raises(ValueError, match=r"'log_pt' is NaN or infinite in 1 event\(s\) \(the first: event 1\)"):
        TokenPreprocessor(["log_pt"], n_tokens=1, sort_by=None, alignment=None).fit(logarithm)  # before the mean


def test_a_missing_token_field_names_the_setting_that_reads_it() -> None:
    tokens = ak.Array([[{"deta": 0.1, "dphi": 0.0, "energy": 3.0}]])
    with pytest.raises(KeyError, match=r"no field 'bogus' \(features\), 'pt' \(sort_by\); they have deta, dphi, energy"):
        TokenPreprocessor(["energy", "bogus"], 4, "pt", [], None).fit(tokens)
    with pytest.raises(KeyError, match=r"no field 'pt' \(features\), 'jet_index' \(alignment\);"):  # the first to ask names it
        TokenPreprocessor(["pt"], 4, "pt", [], JetAlignment()).fit(tokens)


def test_weaver_style_categorical_names_are_not_standardised() -> None:
    """weaver-core names its particle features with a stream prefix (part_charge, part_isElectron): labels still."""
    from showerlearn.collider.data import is_categorical

    for name in ("charge", "jet_index", "is_muon", "part_charge", "part_jet_index", "part_isElectron", "pfcand_charge"):
        assert is_categorical(name), name
    for name in ("pt", "part_pt", "part_deta", "part_isolation", "log_pt_rel", "index", "isolation", "jet_charge",
                 "sf_btag", "n_charge"):  # a jet's pT-weighted charge is measured
        assert not is_categorical(name), name
