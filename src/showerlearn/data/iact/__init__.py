"""Cherenkov-telescope data: ctapipe/lstchain DL1 readers, the IACT dataset and DataModule.

May import: showerlearn.geometry, showerlearn.io, showerlearn.simulation, showerlearn.data.
"""

from showerlearn.data.iact.dataset import IACTDataset
from showerlearn.data.iact.datamodule import IACTDataModule
from showerlearn.data.iact.errors import EmptySelectionError, IACTDataError, MissingTruthError, UnknownCameraError
from showerlearn.data.iact.reader import DL1File, open_dl1
from showerlearn.data.iact.simtel import read_simtel

__all__ = [
    "DL1File",
    "EmptySelectionError",
    "IACTDataError",
    "IACTDataModule",
    "IACTDataset",
    "MissingTruthError",
    "UnknownCameraError",
    "open_dl1",
    "read_simtel",
]
