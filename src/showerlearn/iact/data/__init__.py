"""Cherenkov-telescope data for training: the dataset, quality cuts, cleaning, transforms,
augmentations over the camera's symmetries, target encoding and the ``iact`` DataModule.

May import: showerlearn.iact.particles, showerlearn.iact.geometry, showerlearn.iact.io,
showerlearn.iact.simulation, showerlearn.iact.nn (the input channel names its layers read), showerlearn.data,
showerlearn.io, showerlearn.registry, showerlearn.config.base (typed settings), showerlearn.iact.family (the DataModule's family),
showerlearn.iact.viz and showerlearn.viz (the example figures), astropy, ctapipe, lightning, numpy, pydantic, scipy,
torch.
"""


from showerlearn.iact.data.dataset import IACTDataset
from showerlearn.iact.data.datamodule import IACTDataModule
from showerlearn.iact.io.errors import EmptySelectionError, IACTDataError, MissingTruthError, UnknownCameraError
from showerlearn.iact.io.reader import DL1File, open_dl1
from showerlearn.iact.io.simtel import read_simtel

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
