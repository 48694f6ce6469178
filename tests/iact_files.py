"""The shared DL1 files the IACT reader tests damage, and the tables they damage (paths inside the files)."""

from __future__ import annotations

import shutil
from pathlib import Path

GAMMA_TEST = "dl1_ctapipe/gamma_test.lst.dl1.h5"  # 4 telescopes, 9 images
PHOTONS = "dl1_ctapipe/lst_with_photons.lst.dl1.h5"  # 1 image, with its true image
MUONS = "dl1_ctapipe/lst_muons.lst.dl1.h5"  # 1 telescope
LSTCHAIN = "dl1_lstchain/dl1_gamma_example.h5"  # 25 images
SHOWER = "/simulation/event/subarray/shower"
CTAPIPE_IMAGES = "/dl1/event/telescope/images"
CTAPIPE_POINTING = "/configuration/telescope/pointing/tel_001"
LSTCHAIN_IMAGES = "/dl1/event/telescope/image/LST_LSTCam"
LSTCHAIN_PARAMETERS = "/dl1/event/telescope/parameters/LST_LSTCam"
LAYOUT = "/configuration/instrument/subarray/layout"


def damaged_copy(shared_data: Path, tmp_path: Path, name: str) -> Path:
    """A writable copy of a shared file, to damage."""
    target = tmp_path / Path(name).name
    shutil.copy(shared_data / "iact" / name, target)
    target.chmod(0o644)
    return target
