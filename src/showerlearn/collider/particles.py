"""Particle-flow categories of jet constituents, shared by the simulation, the readers and the models.

A constituent is a reconstructed particle-flow object: a track (charged hadron, electron or muon) or a
calorimeter deposit left over once the tracks' energy is subtracted (photon in the ECAL, neutral
hadron in the HCAL), as Delphes' ``EFlowTrack``, ``EFlowPhoton`` and ``EFlowNeutralHadron``.
"""

from __future__ import annotations

__all__ = ["CATEGORY_NAMES", "CHARGED_HADRON", "ELECTRON", "MUON", "NEUTRAL_HADRON", "PHOTON"]

CHARGED_HADRON = 0
ELECTRON = 1
MUON = 2
PHOTON = 3
NEUTRAL_HADRON = 4

#: category code -> name, in code order
CATEGORY_NAMES: tuple[str, ...] = ("charged_hadron", "electron", "muon", "photon", "neutral_hadron")
