"""Photon attenuation in CsI: xraylib below 0.8 MeV, the NIST XCOM cross sections above.

xraylib (the maintained library) stops at 0.8 MeV for the Compton and Rayleigh cross sections of Cs and I
("Spline extrapolation is not allowed" above); from 0.8 MeV to 100 MeV the table below holds the NIST XCOM
values (M. J. Berger, J. H. Hubbell et al., XCOM: Photon Cross Sections Database, NIST Standard Reference
Database 8, element files of Z = 55 and Z = 53 in barn/atom, combined as
(sigma_Cs + sigma_I) N_A / (A_Cs + A_I); pair production = nuclear + electron field). Both agree at
0.6 and 0.8 MeV to the quoted digits (xraylib's data come from the same evaluation). Density 4.51 g/cm^3
(NIST X-ray mass attenuation tables, Hubbell & Seltzer, NISTIR 5632, table 2).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from showerlearn.calorimeter.kinematics import ELECTRON_MASS_MEV

__all__ = ["CSI_DENSITY", "XCOM_CSI", "XRAYLIB_MAX_MEV", "AttenuationTable", "attenuation_table", "mass_attenuation"]

CSI_DENSITY = 4.51  # g/cm^3
XRAYLIB_MAX_MEV = 0.8
TABLE_MAX_MEV = 100.0

#: NIST XCOM, CsI: (energy [MeV], coherent, incoherent, photoelectric, pair [cm^2/g])
XCOM_CSI: tuple[tuple[float, float, float, float, float], ...] = (
    (0.8, 2.2059e-03, 5.8458e-02, 7.0325e-03, 0.0),
    (1.0, 1.4197e-03, 5.2663e-02, 4.3931e-03, 0.0),
    (1.022, 1.3601e-03, 5.2106e-02, 4.1938e-03, 0.0),
    (1.25, 9.1233e-04, 4.7153e-02, 2.8278e-03, 1.9366e-04),
    (1.5, 6.3487e-04, 4.2888e-02, 2.0235e-03, 8.9564e-04),
    (2.0, 3.5802e-04, 3.6632e-02, 1.2313e-03, 3.0056e-03),
    (2.044, 3.4282e-04, 3.6182e-02, 1.1877e-03, 3.2094e-03),
    (3.0, 1.5938e-04, 2.8844e-02, 6.5249e-04, 7.5525e-03),
    (4.0, 8.9726e-05, 2.4064e-02, 4.3199e-04, 1.1575e-02),
    (5.0, 5.7438e-05, 2.0787e-02, 3.1922e-04, 1.5056e-02),
    (6.0, 3.9893e-05, 1.8374e-02, 2.5182e-04, 1.8062e-02),
    (7.0, 2.9312e-05, 1.6517e-02, 2.0731e-04, 2.0741e-02),
    (8.0, 2.2444e-05, 1.5034e-02, 1.7586e-04, 2.3149e-02),
    (9.0, 1.7732e-05, 1.3819e-02, 1.5252e-04, 2.5341e-02),
    (10.0, 1.4364e-05, 1.2804e-02, 1.3455e-04, 2.7349e-02),
    (11.0, 1.1872e-05, 1.1942e-02, 1.2032e-04, 2.9202e-02),
    (12.0, 9.9763e-06, 1.1200e-02, 1.0878e-04, 3.0919e-02),
    (13.0, 8.4997e-06, 1.0551e-02, 9.9206e-05, 3.2516e-02),
    (14.0, 7.3292e-06, 9.9809e-03, 9.1163e-05, 3.3991e-02),
    (15.0, 6.3835e-06, 9.4779e-03, 8.4348e-05, 3.5357e-02),
    (16.0, 5.6116e-06, 9.0259e-03, 7.8461e-05, 3.6624e-02),
    (18.0, 4.4346e-06, 8.2471e-03, 6.8795e-05, 3.8933e-02),
    (20.0, 3.5916e-06, 7.6050e-03, 6.1262e-05, 4.1005e-02),
    (22.0, 2.9683e-06, 7.0650e-03, 5.5212e-05, 4.2883e-02),
    (24.0, 2.4941e-06, 6.6037e-03, 5.0229e-05, 4.4591e-02),
    (26.0, 2.1251e-06, 6.2004e-03, 4.6075e-05, 4.6142e-02),
    (28.0, 1.8323e-06, 5.8481e-03, 4.2554e-05, 4.7566e-02),
    (30.0, 1.5963e-06, 5.5375e-03, 3.9530e-05, 4.8900e-02),
    (40.0, 8.9796e-07, 4.4008e-03, 2.9155e-05, 5.4219e-02),
    (50.0, 5.7461e-07, 3.6736e-03, 2.3089e-05, 5.8187e-02),
    (60.0, 3.9907e-07, 3.1651e-03, 1.9111e-05, 6.1300e-02),
    (80.0, 2.2449e-07, 2.4961e-03, 1.4209e-05, 6.5843e-02),
    (100.0, 1.4366e-07, 2.0720e-03, 1.1309e-05, 6.9079e-02),
)
_PROCESSES = ("coherent", "incoherent", "photoelectric", "pair")


def mass_attenuation(energy_mev: np.ndarray | float) -> dict[str, np.ndarray]:
    """Mass attenuation coefficients of CsI [cm^2/g] per process and ``total`` (all four, as NIST's mu/rho),
    for energies in [1 keV, 100 MeV]."""
    energy = np.atleast_1d(np.asarray(energy_mev, dtype=float))
    if (energy < 1e-3).any() or (energy > TABLE_MAX_MEV).any() or not np.isfinite(energy).all():
        raise ValueError(f"CsI attenuation is tabulated from 1 keV to {TABLE_MAX_MEV:g} MeV, got {energy.min()}..{energy.max()} MeV")
    values = {name: np.zeros_like(energy) for name in _PROCESSES}
    low = energy < XRAYLIB_MAX_MEV
    if low.any():
        for name, value in _xraylib(energy[low]).items():
            values[name][low] = value
    if (~low).any():
        for name, value in _xcom(energy[~low]).items():
            values[name][~low] = value
    values["total"] = sum(values[name] for name in _PROCESSES)
    return values


def _xraylib(energy: np.ndarray) -> dict[str, np.ndarray]:
    try:
        import xraylib
    except ImportError as error:  # the calorimeter extra
        raise ImportError("CsI cross sections below 0.8 MeV need xraylib: pip install 'showerlearn[calorimeter]'") from error
    functions = {"coherent": xraylib.CS_Rayl_CP, "incoherent": xraylib.CS_Compt_CP, "photoelectric": xraylib.CS_Photo_CP}
    kev = energy * 1e3
    result = {name: np.array([function("CsI", float(e)) for e in kev]) for name, function in functions.items()}
    result["pair"] = np.zeros_like(energy)  # below the 1.022 MeV threshold
    return result


def _xcom(energy: np.ndarray) -> dict[str, np.ndarray]:
    table = np.asarray(XCOM_CSI)
    log_e = np.log(table[:, 0])
    result = {}
    for column, name in enumerate(_PROCESSES, start=1):
        if name == "pair":  # zero below threshold: interpolate the value, not its logarithm
            result[name] = np.interp(np.log(energy), log_e, table[:, column])
        else:
            result[name] = np.exp(np.interp(np.log(energy), log_e, np.log(table[:, column])))
    return result


@dataclass(frozen=True)
class AttenuationTable:
    """Linear attenuation [1/mm] of the processes the transport follows, on a dense log grid for fast look-ups.

    Coherent (Rayleigh) scattering is left out of the transport: it changes neither the energy nor, much, the
    direction (it is 1-6 % of mu between 0.1 and 1 MeV and less above); photoelectric absorption, Compton
    scattering and pair production are followed.
    """

    log_energy: np.ndarray
    photoelectric: np.ndarray
    compton: np.ndarray
    pair: np.ndarray

    def total(self, energy: np.ndarray) -> np.ndarray:
        """photoelectric + Compton + pair [1/mm]."""
        return sum(self.partials(energy))

    def partials(self, energy: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(photoelectric, Compton, pair) [1/mm]; no pair production below its threshold 2 m_e c^2 (which the
        interpolation between the table's nodes on either side would otherwise give)."""
        index, weight = self._position(energy)
        photoelectric, compton, pair = (values[index] * (1 - weight) + values[index + 1] * weight
                                        for values in (self.photoelectric, self.compton, self.pair))
        return photoelectric, compton, np.where(energy > 2 * ELECTRON_MASS_MEV, pair, 0.0)

    def _position(self, energy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        step = self.log_energy[1] - self.log_energy[0]
        x = (np.log(energy) - self.log_energy[0]) / step
        index = np.clip(x.astype(np.int64), 0, len(self.log_energy) - 2)
        return index, np.clip(x - index, 0.0, 1.0)


@lru_cache(maxsize=1)
def attenuation_table(e_min_mev: float = 0.01, e_max_mev: float = TABLE_MAX_MEV, n: int = 2000) -> AttenuationTable:
    """The transport's table (built once per process; worker processes inherit it when forked)."""
    energy = np.geomspace(e_min_mev, e_max_mev, n)
    mu = {name: value * CSI_DENSITY / 10.0 for name, value in mass_attenuation(energy).items()}  # cm^2/g -> 1/mm
    return AttenuationTable(np.log(energy), mu["photoelectric"], mu["incoherent"], mu["pair"])
