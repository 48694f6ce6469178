"""Raw sim_telarray files through ctapipe's ``EventSource`` (optional extra: ``eventio``).

Images are calibrated with ctapipe's default ``CameraCalibrator`` (the same charge and peak-time
extraction ``ctapipe-process`` uses), restricted to LST telescopes, mapped onto the reference camera,
and returned in the layout of :meth:`showerlearn.iact.io.reader.DL1File.read`.
"""

from __future__ import annotations

import importlib.util
import os
from typing import Any

import astropy.units as u
import numpy as np

from showerlearn.iact.io.errors import IACTDataError
from showerlearn.iact.io.reader import is_lst_camera, map_camera
from showerlearn.iact.geometry import lst_camera

__all__ = ["read_simtel"]


def _source(path: str | os.PathLike[str], max_events: int | None) -> Any:
    from ctapipe.io import SimTelEventSource

    # prod2-era files lack the effective focal length; images do not depend on the choice
    try:
        return SimTelEventSource(input_url=path, max_events=max_events, focal_length_choice="EFFECTIVE")
    except RuntimeError as error:
        if "focal_length" not in str(error):
            raise IACTDataError(f"{path}: cannot read as sim_telarray file: {error}") from error
    return SimTelEventSource(input_url=path, max_events=max_events, focal_length_choice="EQUIVALENT")


def read_simtel(path: str | os.PathLike[str], max_events: int | None = None) -> dict[str, np.ndarray]:
    """LST images of the first ``max_events`` array events (all when None) of a sim_telarray file.

    Returns the columns of ``DL1File.read`` (``image``, ``peak_time``, ``true_image`` when simulated,
    truth, ids, pointing, telescope position, camera orientation), one row per LST image.

    Raises:
        ImportError: eventio (the optional ``eventio`` extra) is not installed.
        IACTDataError: unreadable file, or one without any LST telescope.
    """
    if importlib.util.find_spec("eventio") is None:
        raise ImportError("read_simtel needs the optional dependency eventio: pip install 'showerlearn[eventio]'")
    from ctapipe.calib import CameraCalibrator

    if not os.path.isfile(path):
        raise IACTDataError(f"{path}: no such file")
    reference = lst_camera()
    rows: list[dict[str, Any]] = []
    with _source(path, max_events) as source:
        subarray = source.subarray
        mappings = {}
        for tel_id, telescope in subarray.tel.items():
            if is_lst_camera(telescope.camera.geometry):
                mappings[tel_id] = map_camera(reference, telescope.camera.geometry, f"{path}: telescope {tel_id}")
        if not mappings:
            cameras = sorted({t.camera.name for t in subarray.tel.values()})
            raise IACTDataError(f"{path}: no LST telescope (cameras {cameras}); only LSTCam images are read")
        calibrator = CameraCalibrator(subarray)
        for event in source:
            calibrator(event)
            shower = event.simulation.shower
            for tel_id in sorted(set(event.dl1.tel) & set(mappings)):
                perm, rotation, reflected = mappings[tel_id]
                dl1 = event.dl1.tel[tel_id]
                pointing = event.monitoring.tel[tel_id].pointing
                position = subarray.positions[tel_id].to_value(u.m)
                true_image = event.simulation.tel[tel_id].true_image if tel_id in event.simulation.tel else None
                rows.append(
                    {
                        "obs_id": event.index.obs_id,
                        "event_id": event.index.event_id,
                        "tel_id": tel_id,
                        "image": dl1.image[perm],
                        "peak_time": dl1.peak_time[perm],
                        "true_image": None if true_image is None else true_image[perm],
                        "true_energy": shower.energy.to_value(u.TeV),
                        "true_alt": shower.alt.to_value(u.deg),
                        "true_az": shower.az.to_value(u.deg),
                        "true_core_x": shower.core_x.to_value(u.m),
                        "true_core_y": shower.core_y.to_value(u.m),
                        "true_shower_primary_id": shower.shower_primary_id,
                        "pointing_alt": pointing.altitude.to_value(u.deg),
                        "pointing_az": pointing.azimuth.to_value(u.deg),
                        "tel_pos_x": position[0],
                        "tel_pos_y": position[1],
                        "tel_pos_z": position[2],
                        "camera_rotation": rotation,
                        "camera_reflected": reflected,
                    }
                )
    return _stack(rows, reference.n_pixels)


def _stack(rows: list[dict[str, Any]], n_pixels: int) -> dict[str, np.ndarray]:
    if not rows:
        return {"image": np.zeros((0, n_pixels), np.float32), "peak_time": np.zeros((0, n_pixels), np.float32)}
    out = {}
    for key in rows[0]:
        values = [row[key] for row in rows]
        if key == "true_image":
            if any(v is None for v in values):
                continue
            out[key] = np.stack(values).astype(np.float32)
        elif key in ("image", "peak_time"):
            out[key] = np.stack(values).astype(np.float32)
        else:
            out[key] = np.asarray(values)
    for key in ("obs_id", "event_id", "tel_id", "true_shower_primary_id"):
        out[key] = out[key].astype(np.int64)
    return out
