"""The DataModule family every experiment's data goes through.

A :class:`ShowerDataModule` owns everything that depends on the data: reading, splitting, how samples
form a batch (:meth:`ShowerDataModule.collate`; padded sets: :mod:`showerlearn.data.collate`), target
encoding (and decoding back to physical prediction tables, per event and per element), and what the
model must know about its inputs. The engine never looks inside a batch beyond the contract in
``docs/architecture.md``.
"""

from __future__ import annotations

import glob
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, default_collate

from showerlearn.data.collate import to_numpy
from showerlearn.data.sampling import EpochShuffleSampler, SizeGrouping, resume_position
from showerlearn.family import GENERIC, Family
from showerlearn.io.tables import EVENT_INDEX, PREDICTIONS_KEY

#: a test-time view: a batch's inputs -> the same events seen otherwise (:meth:`ShowerDataModule.prediction_views`)
InputView = Callable[[Any], Any]

#: where every checkpoint keeps :meth:`ShowerDataModule.fitted_state` (next to the config)
FITTED_STATE_KEY = "showerlearn_data_state"

Split = str  # "train" | "val" | "test" | "predict"


class ShowerDataModule(L.LightningDataModule):
    """Base of all showerlearn DataModules.

    Subclasses fill ``train_set``, ``val_set``, ``test_set`` (and ``predict_set`` after
    :meth:`use_prediction_inputs`) in :meth:`setup` with datasets yielding per-event dicts
    ``{"inputs", "targets", "masks", "weights", "meta"}``, and implement :meth:`model_inputs`,
    :meth:`decode_predictions` and :meth:`arrays`.

    ``seed`` is injected by the engine from the experiment seed; it fixes splits and data order
    (:mod:`showerlearn.data.sampling`: the same order per epoch, also across a resume). ``progress`` is set by
    the engine from the command's ``--progress/--no-progress``: whether the events simulated on first use
    (:func:`showerlearn.data.files.cached_simulation`) may show a progress bar on a terminal.
    """

    #: names of the arguments :meth:`model_inputs` supplies; config validation excludes them from
    #: what a user may set on the model, so it can check model params before any data is read.
    model_input_names: ClassVar[frozenset[str]] = frozenset()
    #: the detector family a run of this data belongs to (its board section, its explanation adapter)
    family: ClassVar[Family] = GENERIC
    #: the settings (constructor parameters; a dot reaches into a nested one, ``preclustering.features``)
    #: that :meth:`fitted_state` holds or was fitted for: a state restored from a checkpoint stands in for
    #: them, so a run predicts with them as it was trained, and prediction refuses to change them
    #: (:meth:`changed_fitted_settings`) rather than ignore the change
    fitted_settings: ClassVar[tuple[str, ...]] = ()
    #: the settings (as above) that change what the network reads of each event, not fitted: ``showerlearn predict``
    #: takes them (a study of the network under another cleaning), and says that the inputs are no longer those
    #: the network was trained on (:meth:`changed_input_settings`)
    input_settings: ClassVar[tuple[str, ...]] = ()
    #: the settings (constructor parameters; a dot reaches into a nested one) that change how the events are
    #: read or predicted, not which events: a run's test split predicted with any other setting changed (its
    #: split, cuts, files) holds other events, so ``showerlearn predict`` refuses it (:meth:`changed_event_settings`)
    prediction_settings: ClassVar[frozenset[str]] = frozenset({"batch_size", "num_workers"})
    #: the prediction columns that name an event (a file index and an event number): two predictions of a test
    #: split hold the same events when these are equal row by row (``showerlearn evaluate --predictions``)
    event_id_columns: ClassVar[tuple[str, ...]] = ()

    def __init__(self, batch_size: int = 64, num_workers: int = 0, seed: int = 0) -> None:
        super().__init__()
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.seed = seed
        #: training batches of events of similar size, sorted in pools of this many batches (DataModules of sets
        #: set it from their ``group_by_size``; :meth:`training_sizes` gives the sizes); 0: plain shuffled batches
        self.group_by_size = 0
        self.progress = True
        self.train_set: Dataset | None = None
        self.val_set: Dataset | None = None
        self.test_set: Dataset | None = None
        self.predict_set: Dataset | None = None
        self.prediction_inputs: list[Path] | None = None
        #: the files the splits were read from that this DataModule simulated into a cache (:meth:`simulated_files`)
        self.simulated_into: list[Path] = []

    # --- what subclasses provide -------------------------------------------------------------
    def model_inputs(self) -> dict[str, Any]:
        """Constructor arguments the model needs from the data (``lattice``, ``in_channels``...)."""
        raise NotImplementedError

    def decode_predictions(
        self, outputs: dict[str, np.ndarray], meta: dict[str, np.ndarray]
    ) -> dict[str, np.ndarray] | dict[str, dict[str, np.ndarray]]:
        """Turn encoded model outputs (plus carried meta) into physical prediction columns.

        ``outputs`` and ``meta`` hold one row per event of the split. Per-element entries (a padded
        ``(B, N, ...)`` head output, a padded meta entry and its ``K_mask``) come zero-padded to the
        largest ``N`` of the split, so ``meta``'s masks tell the real elements.

        Returns the per-event columns (equal-length 1-D arrays), or several tables: table name ->
        columns, with the per-event table under ``"predictions"`` and per-element tables (one row per
        hit, say) holding an integer ``event_index`` column, the row of their event in the per-event
        table (:func:`showerlearn.io.tables.write_tables`).
        """
        raise NotImplementedError

    def column_units(self) -> dict[str, dict[str, str]]:
        """The unit of each column :meth:`decode_predictions` writes: table name -> column -> astropy unit
        string (``"TeV"``, ``"deg"``; ``""`` for a dimensionless one), stored with the prediction files
        (:mod:`showerlearn.io.tables`). A column not named has no unit written; the default names none.
        The family defines them where it defines its columns."""
        return {}

    #: the names of :meth:`prediction_attributes`, which an ensemble keeps from its members' files
    prediction_attribute_names: ClassVar[tuple[str, ...]] = ()
    #: the network outputs several runs' networks average into one when the decoded predictions do not
    #: (:meth:`average_network_outputs`): none by default
    averaged_outputs: ClassVar[frozenset[str]] = frozenset()
    #: data settings that decide which elements those outputs index (the calorimeter's pre-clusters): networks
    #: whose outputs are averaged must agree on them
    output_settings: ClassVar[tuple[str, ...]] = ()

    def prediction_attributes(self) -> dict[str, Any]:
        """File attributes written with the predictions of the events set up last (the test split, or the file
        predicted): what their integer codes mean, say (the collider's ``process_names``). The default: none."""
        return {}

    def empty_predictions(self, own_outputs: Mapping[str, np.ndarray] | None = None) -> dict[str, dict[str, np.ndarray]]:
        """The prediction tables of no event: every table :meth:`decode_predictions` writes, with its columns
        and their types, and no row. What an input without events, or whose events the selection all removed,
        is predicted as, so that its output reads as any other (the same tables, columns and types).
        ``own_outputs``: the predictor's outputs beyond the heads (an estimator's diagnostics) of no event, kept
        where :meth:`decode_predictions` keeps them.

        The default: the tables and columns :meth:`column_units` names, as floats (a per-element table's
        ``event_index`` as integers), the own outputs in the per-event table. A DataModule whose columns are
        not all floats, or that names units of columns it does not always write, overrides it, best with a
        decode of no event."""
        tables = {}
        for name, columns in self.column_units().items():
            index = {} if name == PREDICTIONS_KEY else {EVENT_INDEX: np.zeros(0, np.int64)}
            tables[name] = {**index, **{column: np.zeros(0) for column in columns}}
        if own_outputs:
            tables[PREDICTIONS_KEY] = {**tables.get(PREDICTIONS_KEY, {}), **own_outputs}
        return tables

    def describe(self) -> str:
        """One line naming the data and its selection, the caption of the run's figures (e.g. ``12000 events of
        data.csv; cuts: x > 0``), kept in ``run.json`` at training; the default: none."""
        return ""

    def arrays(
        self, split: Split, raw: bool = False
    ) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, np.ndarray], dict[str, np.ndarray]]:
        """``(inputs, targets, masks, meta)`` of a whole split in memory, for scikit-learn estimators.

        ``raw``: inputs in physical units, before the normalising transforms networks are fed with
        (estimators that compute physics features, like Hillas parameters, ask for this).
        """
        raise NotImplementedError

    def prediction_views(self) -> list[InputView | None]:
        """The views under which every event is predicted again (test-time augmentation): each a function of a
        batch's inputs (on whatever device they are, and returned there) giving the same events seen otherwise,
        such as the image turned by a symmetry of the camera; ``None`` is the event as it is. The default: only
        that."""
        return [None]

    def merge_prediction_views(
        self, outputs: Sequence[dict[str, np.ndarray]], meta: dict[str, np.ndarray]
    ) -> dict[str, np.ndarray]:
        """One set of encoded outputs from those of every view of :meth:`prediction_views`, in its order."""
        if len(outputs) != 1:
            raise NotImplementedError(f"{type(self).__name__} has no rule to merge {len(outputs)} prediction views")
        return outputs[0]

    def predict_views(
        self, predict: Callable[[Any], Mapping[str, Any]], batch: Mapping[str, Any],
        views: Sequence[InputView | None] | None = None,
    ) -> dict[str, np.ndarray]:
        """One batch's encoded outputs: ``predict`` of its inputs under every view of :meth:`prediction_views`
        (``views``: those, made once by a caller predicting many batches), merged by :meth:`merge_prediction_views`.
        Merging batch by batch keeps one batch of each view in memory, not every view of a whole split."""
        inputs = batch["inputs"]
        outputs = [{name: to_numpy(values) for name, values in predict(inputs if view is None else view(inputs)).items()}
                   for view in (self.prediction_views() if views is None else views)]
        meta = {name: to_numpy(values) for name, values in batch.get("meta", {}).items()}
        return self.merge_prediction_views(outputs, meta)

    @classmethod
    def average_predictions(
        cls, tables: Sequence[Mapping[str, np.ndarray]], names: Sequence[str]
    ) -> dict[str, np.ndarray]:
        """One prediction table from those of several runs for the same events (``showerlearn ensemble``);
        ``names`` label the tables in errors. Each family says how its columns average."""
        raise ValueError(f"the {cls.family.name} family's data ({cls.__name__}) have no rule to average the predictions "
                         "of several runs: its runs cannot be ensembled")

    @classmethod
    def averages_predictions(cls) -> bool:
        """Whether the data have a rule to average the predictions of several runs (:meth:`average_predictions`)."""
        return cls.average_predictions.__func__ is not ShowerDataModule.average_predictions.__func__

    @classmethod
    def average_network_outputs(cls, outputs: Iterable[Mapping[str, np.ndarray]]) -> dict[str, np.ndarray]:
        """One set of encoded outputs from those of several networks on the same events in the same order, network
        after network (``showerlearn ensemble`` of a family whose decoded predictions do not average, such as
        cluster labels, but whose :attr:`averaged_outputs` do); each holds only those outputs."""
        raise ValueError(f"the {cls.family.name} family's data ({cls.__name__}) have no rule to average the outputs "
                         "of several networks")

    def draw_examples(self, folder: Path, formats: Sequence[str] | None = None) -> bool:
        """Draw a few test inputs on the detector's own layout into ``folder``, in the figure ``formats`` (None: the
        evaluation figures' default); False when there is nothing to draw (the default)."""
        return False

    def use_prediction_inputs(self, files: Sequence[str | Path]) -> None:
        """Predict on these files instead of the test split (``showerlearn predict``).

        Subclasses that can read new files override this and build ``predict_set`` in ``setup``.
        """
        raise NotImplementedError(f"{type(self).__name__} cannot predict on new files")

    def prediction_parts(self, file: Path, max_events: int) -> Iterator[Dataset]:
        """The events of one input ``file`` to predict, part after part: each part is this DataModule's
        ``predict_set`` (described by :meth:`selection_report` and :meth:`removed_rows`) while it is yielded.

        DataModules that read their inputs into memory override this to read at most ``max_events`` events
        of the file a part, so that predicting a file of any size takes the same memory. The default: the
        whole file as one part, right for DataModules that read events lazily (the engine still predicts,
        decodes and writes it ``max_events`` at a time).
        """
        self.teardown("predict")  # the previous file's handles
        self.predict_set = None
        self.use_prediction_inputs([file])
        self.setup("predict")
        yield self.predict_set

    def selection_report(self) -> dict[str, int]:
        """Events of the current prediction part (:meth:`prediction_parts`) removed by each selection cut,
        cut name -> count, in the order the cuts apply (each counts among the events the earlier cuts left,
        so events read = events predicted + the sum). The default: a DataModule without a selection."""
        return {}

    def removed_rows(self) -> dict[str, np.ndarray]:
        """The per-event prediction columns (as :meth:`decode_predictions` gives them) of the events the
        selection removed from the current prediction part, with NaN predictions: what ``showerlearn predict
        --keep-invalid`` writes as rows flagged invalid. DataModules with a selection implement it."""
        if any(self.selection_report().values()):
            raise NotImplementedError(f"{type(self).__name__} cannot give the rows of the events its selection removed")
        return {}

    def sampling_weights(self) -> np.ndarray | None:
        """Per-event weights of the training split with which an epoch draws its events (with replacement), or
        None: every event once per epoch, shuffled (the default). :func:`showerlearn.data.sampling.flattening_weights`
        makes weights that flatten a spectrum."""
        return None

    def training_sizes(self) -> np.ndarray | None:
        """Per event of the training split, the size its batch is padded to (its hits), after :meth:`setup`: what
        ``group_by_size`` groups batches by. None (the default): the batches are not padded to their events."""
        return None

    def size_grouping(self) -> SizeGrouping | None:
        """How the training batches are grouped by size, after :meth:`setup` (None: plain shuffled batches): what
        the training sampler draws with, and what tells the task module to divide its losses by a running mean."""
        if not self.group_by_size or (sizes := self.training_sizes()) is None:
            return None
        return SizeGrouping(sizes, self.batch_size, self.group_by_size)

    def collate(self, samples: list[dict[str, Any]]) -> dict[str, Any]:
        """One batch from per-event samples (the loaders' ``collate_fn``): torch's ``default_collate``.

        DataModules of variable-length sets return :func:`showerlearn.data.collate.collate_padded` here.
        """
        return default_collate(samples)

    # --- loaders shared by all subclasses ----------------------------------------------------
    def _loader(self, dataset: Dataset | None, split: Split, shuffle: bool) -> DataLoader:
        if dataset is None:
            raise RuntimeError(f"{type(self).__name__}.setup() did not create the {split} set")
        sampler = self._training_sampler(dataset) if shuffle else None
        return DataLoader(
            dataset,
            batch_size=self.batch_size,
            sampler=sampler,
            num_workers=self.num_workers,
            # torch's own function unless a subclass overrides collate: loader workers started by spawn
            # (macOS) then get no pickled copy of the DataModule, its trainer included
            collate_fn=self.collate if type(self).collate is not ShowerDataModule.collate else default_collate,
            # the loader draws its workers' seeds from here, not from the global state dropout uses
            generator=torch.Generator().manual_seed(self.seed),
            persistent_workers=self.num_workers > 0,
        )

    def _training_sampler(self, dataset: Dataset) -> EpochShuffleSampler:
        """Seeded per-epoch order, this process's DDP shard, positioned where a resumed fit left off."""
        rank = self.trainer.global_rank if self.trainer is not None else 0
        sampler = EpochShuffleSampler(dataset, seed=self.seed, num_replicas=self._world_size(), rank=rank,  # type: ignore[arg-type]
                                      weights=self.sampling_weights(), grouping=self.size_grouping())
        if (position := resume_position(self.trainer, self.batch_size, sampler.num_samples)) is not None:
            epoch, batches = position
            sampler.resume_at(epoch, min(batches * self.batch_size, sampler.num_samples))
        return sampler

    def test_share(self) -> float:
        """The share of the data set's events that the test split holds (1 before the splits are made): what
        scales totals of the whole data set, such as the showers a simulation threw, to the test events."""
        sizes = [len(split) if split is not None else 0 for split in (self.train_set, self.val_set, self.test_set)]
        return sizes[2] / sum(sizes) if sum(sizes) else 1.0

    def evaluation_defaults(self) -> dict[str, Any]:
        """Settings of the family's evaluator that the data itself gives (the simulated production of IACT files,
        for the effective area), JSON-ready, after :meth:`setup`: kept in run.json, and given to the evaluator for
        those it takes and the config leaves unset (null). Empty by default."""
        return {}

    def fitted_state(self) -> dict[str, Any]:
        """What :meth:`setup` learned from the training split that predicting new files needs (a feature
        standardisation, the class names), as plain data; empty when there is nothing (the default). Every
        checkpoint carries it, so a trained network predicts new files without its training files."""
        return {}

    def restore_fitted_state(self, state: dict[str, Any]) -> None:
        """Take over a :meth:`fitted_state` of the training run before :meth:`setup` of new prediction
        inputs, which then reads no training file. DataModules with a fitted state override this."""
        raise NotImplementedError(f"{type(self).__name__} saves no fitted state to restore")

    @classmethod
    def changed_fitted_settings(cls, trained: Mapping[str, Any], params: Mapping[str, Any]) -> list[str]:
        """The :attr:`fitted_settings` whose values differ between ``trained``, the params the run was trained
        with, and ``params`` (both as plain data, a config's ``data.params``); a setting under a null or
        missing one counts as absent."""
        return [path for path in cls.fitted_settings if _setting(trained, path) != _setting(params, path)]

    @classmethod
    def changed_input_settings(cls, trained: Mapping[str, Any], params: Mapping[str, Any]) -> list[str]:
        """The settings of ``params`` under an :attr:`input_settings` whose values differ from ``trained``'s, as
        dotted paths (both a config's ``data.params``, as plain data)."""
        return [path for path, _, _ in setting_differences(trained, params)
                if _under(path, cls.input_settings)]

    @classmethod
    def changed_event_settings(cls, trained: Mapping[str, Any], params: Mapping[str, Any]) -> list[str]:
        """The settings of ``params`` (a config's ``data.params``, as plain data), as dotted paths, that differ
        from ``trained``'s and lie under no :attr:`prediction_settings`: those that change which events a split
        holds."""
        before, after = _leaves(trained), _leaves(params)
        changed = [path for path in sorted(set(before) | set(after)) if before.get(path, _ABSENT) != after.get(path, _ABSENT)]
        return [path for path in changed if not _under(path, cls.prediction_settings)]

    @classmethod
    def ignored_prediction_settings(
        cls, outputs: frozenset[str], trained: Mapping[str, Any], params: Mapping[str, Any]
    ) -> dict[str, str]:
        """The prediction settings of ``params`` changed from ``trained``'s (``data.params`` as plain data, paths
        relative to it) that a model predicting ``outputs`` is not read with, each with why: ``showerlearn
        predict`` refuses them, as they would change nothing while the output's config claims them. None by
        default."""
        return {}

    @classmethod
    def new_run_problems(cls, params: Mapping[str, Any]) -> list[str]:
        """What a new run with these ``params`` (a config's resolved ``data.params``, as plain data) cannot start
        with, one line each named by its key (``data.params.source.path: no such file``), checked before the
        run's folder exists; not when a finished run's config is read, which ``evaluate`` does from any working
        folder. None by default."""
        return []

    @classmethod
    def resume_problems(cls, checkpoint: Callable[[], Mapping[str, Any]], heads: Collection[str]) -> list[str]:
        """Why a run whose last checkpoint (``checkpoint()`` loads it: only a DataModule that needs it reads it) trains
        ``heads`` cannot be continued by this version: its targets were encoded otherwise by an earlier one, say,
        which the network would go on learning from the new encoding while its checkpoint says the old. Checked
        before the run is touched. None by default."""
        return []

    @classmethod
    def input_files(cls, params: Mapping[str, Any]) -> list[Path]:
        """The files a DataModule with these ``params`` (a config's resolved ``data.params``, as plain data) reads
        its events from: a run records their fingerprints when it starts, and resuming it on changed files is
        refused (:mod:`showerlearn.engine.data_fingerprint`). The default: every existing file that a setting
        named as files are (:data:`FILE_SETTINGS`, at any depth: ``files``, ``source.files``, a Delphes source's
        ``classes``) names, or a glob pattern among them matches, as written; not other texts (a feature named
        ``time`` beside a file of that name), nor folders (a cache, a parquet data set); simulated events are
        fixed by their settings. A DataModule that reads files under other settings overrides it."""
        files: dict[str, Path] = {}
        for value in _file_texts(params):
            names = sorted(glob.glob(value)) if glob.has_magic(value) else [value]
            files.update((name, Path(name)) for name in names if _is_file(name))
        return list(files.values())

    def simulated_files(self) -> list[Path]:
        """The files this DataModule simulated its events into and read its splits from (a cache of
        :func:`showerlearn.data.files.cached_simulation`), once set up; none for events read from the files the
        config names. A run records their fingerprints, as :meth:`input_files`' are at its start, so that a file
        of its own simulated events is known as such wherever it is predicted (:mod:`showerlearn.engine.data_fingerprint`).
        A DataModule that simulates sets :attr:`simulated_into` when it reads the cached file."""
        return list(self.simulated_into)

    def needs_training_split(self) -> bool:
        """Whether :meth:`setup` must read the training split: not read yet, and needed (it gives what the data
        fits, unless a checkpoint brought that and only new files are predicted)."""
        return self.train_set is None and not (self.prediction_inputs is not None and bool(self.fitted_state()))

    def restore_from_checkpoint(self, checkpoint: Mapping[str, Any]) -> bool:
        """Restore the fitted state a checkpoint carries (:data:`FITTED_STATE_KEY`); False when it carries none
        (nothing fitted, or a checkpoint of an earlier version: :meth:`setup` then fits again on the training
        split)."""
        fitted = checkpoint.get(FITTED_STATE_KEY)
        if not fitted:
            return False
        self.restore_fitted_state(fitted)
        return True

    def state_dict(self) -> dict[str, Any]:
        return {"world_size": self._world_size()}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        # a resumed epoch's position counts batches of this process's shard: with another number of
        # processes the shards, and so the batches still to train on, would be others
        saved, now = state_dict.get("world_size", 1), self._world_size()
        if saved != now:
            raise RuntimeError(
                f"this run was trained by {saved} process(es) and is resumed by {now}: set trainer.devices and "
                f"trainer.num_nodes so that devices x nodes = {saved} (trainer.devices 'auto' counts this machine's GPUs)"
            )

    def _world_size(self) -> int:
        return self.trainer.world_size if self.trainer is not None else 1

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_set, "train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_set, "val", shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader(self.test_set, "test", shuffle=False)

    def predict_dataloader(self) -> DataLoader:
        dataset = self.predict_set if self.prediction_inputs is not None else self.test_set
        return self._loader(dataset, "predict", shuffle=False)


#: what :func:`_setting` gives for a setting that is not there (``None`` could be its value)
_ABSENT = object()


def _under(path: str, settings: Iterable[str]) -> bool:
    """Whether the dotted ``path`` is one of ``settings`` or lies under one."""
    return any(path == setting or path.startswith(f"{setting}.") for setting in settings)


def setting_differences(
    before: Any, after: Any, prefix: str = "", shared_only: bool = False
) -> list[tuple[str, Any, Any]]:
    """``(dotted key, before, after)`` of every leaf where two nested settings differ: a key one of them lacks reads
    as None there, or, with ``shared_only``, is passed over."""
    if not (isinstance(before, Mapping) and isinstance(after, Mapping)):
        return [] if before == after else [(prefix.rstrip("."), before, after)]
    keys = set(before) & set(after) if shared_only else set(before) | set(after)
    return [difference for key in sorted(keys)
            for difference in setting_differences(before.get(key), after.get(key), f"{prefix}{key}.", shared_only)]


def _leaves(params: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested ``params`` as dotted path -> value (a mapping's leaves; an empty mapping is a leaf)."""
    leaves: dict[str, Any] = {}
    for key, value in params.items():
        if isinstance(value, Mapping) and value:
            leaves.update(_leaves(value, f"{prefix}{key}."))
        else:
            leaves[f"{prefix}{key}"] = value
    return leaves


def _setting(params: Mapping[str, Any], path: str) -> Any:
    """The value at the dotted ``path`` in nested ``params``, or :data:`_ABSENT`."""
    value: Any = params
    for key in path.split("."):
        if not isinstance(value, Mapping) or key not in value:
            return _ABSENT
        value = value[key]
    return value


#: the settings (at any depth of ``data.params``) whose texts name data files
FILE_SETTINGS = frozenset({"files", "file", "path", "paths", "classes"})


def _file_texts(value: Any, named: bool = False) -> Iterator[str]:
    """Every string in nested mappings and lists ``value`` under a key of :data:`FILE_SETTINGS` (``named``: inside
    one already)."""
    if isinstance(value, str) and named:
        yield value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _file_texts(item, named or key in FILE_SETTINGS)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _file_texts(item, named)


def _is_file(name: str) -> bool:
    """Whether ``name`` is an existing file; False for any text that cannot be a path (too long, a NUL)."""
    try:
        return Path(name).is_file()
    except (OSError, ValueError):
        return False
