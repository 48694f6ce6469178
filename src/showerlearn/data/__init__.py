"""The DataModule contract every family's data goes through (``base``), the train / val / test split
settings every DataModule takes (``split``), batches of padded variable-length sets (``collate``), the
seeded resumable sampler, and the detector-agnostic
feature-table DataModule (``tabular``). Each family's readers, datasets and
DataModules live in the family (``showerlearn.iact.data``).

May import: showerlearn.registry, showerlearn.io, showerlearn.family, showerlearn.config.base (typed settings), torch,
lightning, numpy, pydantic, annotated_types, h5py.
"""

