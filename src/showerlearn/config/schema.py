"""Typed schema of an experiment config file.

The schema fixes the structure; each component's ``params`` are then checked against the
constructor signature of the component the config names (see :mod:`showerlearn.config.components`),
and each head's ``loss_params`` against the signature of its loss.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from showerlearn.config.base import SettingsModel

#: Lightning's short names of its precisions (its Trainer reads them so; a config keeps the long ones)
_PRECISION_ALIASES = {"32": "32-true", "bf16": "bf16-mixed", "16": "16-mixed", "64": "64-true"}


class Strict(SettingsModel):
    """Base of every config section (unknown keys and booleans for numbers are errors). An infinite value (a
    detector card's last bin edge) stays infinite when the config is written (``.inf`` in YAML): pydantic's
    default writes null, which the config then refuses when a run reads its own config.yaml back."""

    model_config = ConfigDict(ser_json_inf_nan="constants")


class Component(Strict):
    """A component chosen by registry name or import path ``package.module:Name``, with its parameters."""

    name: str = Field(description="Registered name (e.g. 'gamma_physnet') or import path 'package.module:Name'.")
    params: dict[str, Any] = Field(default_factory=dict, description="Constructor arguments of the component.")


class HeadConfig(Strict):
    """One supervised output of a multi-task model."""

    loss: str = Field(
        description="Loss registry name ('cross_entropy', 'l1', 'pairwise_bce', 'object_condensation', ...) or import "
        "path; the loss declares the head's kind (a loss by import path without a declaration is a regression)."
    )
    loss_params: dict[str, Any] = Field(
        default_factory=dict, description="Arguments of the loss besides output, target and mask (e.g. pos_weight)."
    )
    metrics: list[str] = Field(
        default_factory=list,
        description="Validation metrics logged as val/<head>_<metric>: registered names ('accuracy', 'auroc', "
        "'mae', ...) or import paths.",
    )


def logged_name(stage: str, head: str | None = None, quantity: str = "loss") -> str:
    """The name under which training logs a quantity: ``<stage>/loss`` (the sum over the heads) or
    ``<stage>/<head>_<quantity>`` (a head's loss or validation metric)."""
    return f"{stage}/loss" if head is None else f"{stage}/{head}_{quantity}"


class TaskConfig(Strict):
    """Heads of the multi-task model and how their losses are combined."""

    heads: dict[str, HeadConfig] = Field(
        description="Head name -> loss and metrics, at least one. Names match the model's outputs."
    )
    balancing: Component = Field(
        default_factory=lambda: Component(name="fixed"),
        description="Task balancing: 'fixed', 'uncertainty' (Kendall et al. 2018) or 'gradnorm'.",
    )

    @field_validator("heads")
    @classmethod
    def _some_head(cls, heads: dict[str, HeadConfig]) -> dict[str, HeadConfig]:
        if not heads:
            raise ValueError("no head: a task trains at least one (head name -> its loss and metrics)")
        return heads

    def logged_quantities(self) -> list[str]:
        """Every name a training logs: what early stopping (or another callback) may monitor."""
        names = [logged_name("train"), logged_name("val")]
        for head, spec in self.heads.items():
            names += [logged_name("train", head), logged_name("val", head), f"weight/{head}"]
            names += [logged_name("val", head, metric) for metric in spec.metrics]
        return names


class EarlyStoppingConfig(Strict):
    monitor: str = Field("val/loss", description="Logged quantity to watch.")
    patience: int = Field(5, ge=1, description="Epochs without improvement before stopping.")
    mode: Literal["min", "max"] = "min"


def lightning_devices(value: Any) -> Any:
    """``trainer.devices`` as Lightning reads its text forms: ``'3'`` three devices, ``'0,2'`` (or ``'0,'``) the
    device ids 0 and 2, ``'-1'`` all of them; any other value as it is."""
    if not isinstance(value, str) or value == "auto":
        return value
    text = value.strip()
    try:
        return [int(part) for part in text.split(",") if part.strip()] if "," in text else int(text)
    except ValueError:
        return value


class TrainerConfig(Strict):
    """Options passed to the Lightning ``Trainer`` (the training engine)."""

    max_epochs: int = Field(
        10, ge=0,
        description="Number of epochs. 0 with `init_from`: no training, the init_from network is predicted and "
        "evaluated on this config's data as it is (a network trained elsewhere, on new events).",
    )
    max_steps: int = Field(-1, ge=-1, description="Stop after this many optimizer steps (-1: no limit; 0 is refused: it "
                           "trains nothing, which `max_epochs: 0` with `init_from` says).")
    max_time: str | None = Field(
        None,
        pattern=r"^\d+:\d{2}:\d{2}:\d{2}$",
        description="Stop training after this wall time, 'DD:HH:MM:SS', counted over all attempts of the run "
        "(a resumed run continues the clock); the run then predicts and evaluates with the best checkpoint "
        "so far and run.json records stopped_by: max_time. `train --resume RUN` with a larger value "
        "trains it further.",
    )
    accelerator: str = Field("auto", description="'cpu', 'gpu', 'auto', ... (Lightning accelerator).")
    devices: int | list[int] | str = Field(
        "auto", description="Number of devices per node (-1: all of them), 'auto', or device ids ([0, 2] or '0,2')."
    )
    num_nodes: int = Field(1, ge=1, description="Number of nodes for multi-node DDP.")
    strategy: str = Field("auto", description="Lightning strategy, e.g. 'ddp'.")
    precision: Literal["32-true", "bf16-mixed", "16-mixed", "64-true"] = Field(
        "32-true",
        description="Lightning's precision: '32-true'; 'bf16-mixed' (bfloat16 autocast: on GPUs, and on CPUs with "
        "native bfloat16 (AVX512-BF16, AMX), where the compiled gamma-PhysNet-DA trains 1.6x and infers 1.7x faster, "
        "benchmarks/results/train_throughput.md); '16-mixed' (float16 autocast: GPUs; Lightning runs it as "
        "bf16-mixed on a CPU); '64-true'. Lightning's short forms (32, 'bf16', 16, 64) are read as these. A 16-bit "
        "run predicts its test split in its own type on a GPU, in bfloat16 autocast on a CPU with native bfloat16, "
        "else in 32-bit; a 64-bit run in 32-bit. Not offered: Lightning's 16-bit '-true' modes, which would round "
        "the events' truth and pointing columns too.",
    )

    @field_validator("devices", mode="before")
    @classmethod
    def _devices_as_lightning_reads_them(cls, value: Any) -> Any:
        """Lightning's forms, checked here: its Trainer refuses the others only once the run's data is loaded."""
        if isinstance(value, bool):
            raise ValueError("expected a number of devices, not a boolean")
        devices = lightning_devices(value)
        count = isinstance(devices, int) and (devices >= 1 or devices == -1)
        ids = isinstance(devices, list) and bool(devices) and all(isinstance(i, int) and not isinstance(i, bool) and i >= 0
                                                                  for i in devices) and len(set(devices)) == len(devices)
        if not (count or ids or devices == "auto"):
            raise ValueError("expected a number of devices (>= 1, or -1 for all), 'auto', or distinct device ids "
                             "([0, 2] or '0,2')")
        return value

    @field_validator("precision", mode="before")
    @classmethod
    def _long_precision_name(cls, value: Any) -> Any:
        """Lightning's short forms, as its Trainer reads them (``16`` is ``16-mixed``)."""
        return _PRECISION_ALIASES.get(str(value), value) if isinstance(value, (int, str)) else value

    gradient_clip_val: float | None = Field(
        None, ge=0, description="Clip the gradient norm to this value (None, or 0 as Lightning reads it: no clipping)."
    )
    limit_train_batches: float | int = Field(
        1.0, description="Fraction (a float in [0, 1]) or number (an int >= 0) of training batches per epoch."
    )
    limit_val_batches: float | int = Field(
        1.0, description="Fraction (a float in [0, 1]) or number (an int >= 0) of validation batches."
    )

    @field_validator("max_time", mode="before")
    @classmethod
    def _time_as_text(cls, value: Any) -> Any:
        """YAML 1.1 reads an unquoted ``1:00:00:00`` as the base-60 number 216000: which duration was meant cannot
        be told from the number, so it is refused with the form that stays text."""
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            raise ValueError("expected 'DD:HH:MM:SS' as text, in quotes ('1:00:00:00'), not a number: YAML reads "
                             "unquoted colon-separated digits that start with 1-9 as one base-60 number")
        return value

    @field_validator("max_steps")
    @classmethod
    def _steps_to_train(cls, value: int) -> int:
        """0 steps would train nothing and leave no checkpoint to predict with, found only after the data is read."""
        if value == 0:
            raise ValueError("0 trains nothing: give a positive number of steps, or -1 for no limit (to evaluate a "
                             "trained network without training: trainer.max_epochs: 0 with init_from)")
        return value

    @field_validator("limit_train_batches", "limit_val_batches")
    @classmethod
    def _batch_limit(cls, value: float | int) -> float | int:
        """Lightning's rule, which its Trainer applies only once the run's data is loaded."""
        if isinstance(value, float) and value > 1.0 and value.is_integer():
            return int(value)  # a whole number of batches, as Lightning reads 10.0
        if isinstance(value, float) and not 0.0 <= value <= 1.0:
            raise ValueError("a float outside [0, 1] and not whole: give a fraction of the batches, or a number of "
                             "batches")
        if isinstance(value, int) and value < 0:
            raise ValueError("expected a number of batches >= 0 (or a fraction in [0, 1])")
        return value
    log_every_n_steps: int = Field(10, ge=1, description="Logging interval in steps.")
    checkpoint_every_n_steps: int | None = Field(
        50, ge=1, description="Also save a resumable last.ckpt every N training steps (mid-epoch)."
    )
    early_stopping: EarlyStoppingConfig | None = Field(None, description="Stop when a monitored quantity stalls.")
    deterministic: bool = Field(True, description="Use deterministic algorithms (identical results per seed).")
    threads: int | None = Field(
        None, ge=1,
        description="torch intra-op threads on CPU, in every training process (None: torch's default, under DDP "
        "Lightning's cores / processes).",
    )
    cpu_allocator: Literal["system", "tuned"] = Field(
        "system",
        description="'system': glibc's defaults. 'tuned': glibc keeps freed memory for the next step instead of "
        "unmapping large buffers: 3-6 % faster CPU steps (benchmarks/results/train_throughput.md as of commit fd14df1, where only the allocator differed), at the cost of "
        "up to 1 GiB of freed memory kept per process, DataLoader workers included.",
    )
    tf32: bool | None = Field(
        None,
        description="TensorFloat-32 on NVIDIA GPUs (Ampere and later) for float32 convolutions and matrix products: "
        "true: both (inputs rounded to a 10-bit mantissa, faster on tensor cores); false: neither (exact float32); "
        "None: the flags are left as they are (torch's defaults: convolutions in TF32, matrix products in float32). "
        "No effect on CPUs.",
    )
    compile: bool | Literal["default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs"] = Field(
        False,
        description="torch.compile the network for training and prediction (true: mode 'default'): fused kernels, "
        "the same results within float rounding. The first run compiles (about two minutes for the ResNet-56 "
        "gamma-PhysNet-DA on 2 CPU cores), later "
        "runs load the kernels from `compile_cache`.",
    )
    compile_cache: Path = Field(
        Path(".showerlearn_cache/torch_compile"),
        description="Where compiled kernels are kept between runs (inductor's TORCHINDUCTOR_CACHE_DIR).",
    )


class ExperimentConfig(Strict):
    """One experiment: data, a model (network) or an estimator (classical baseline), training, evaluation."""

    name: str = Field(description="Experiment name, one folder name (no / or \\); runs go to OUTPUT_DIR/NAME/.")
    seed: int = Field(0, ge=0, lt=2**32, description="The one seed behind python, numpy, torch, data order and simulation.")
    output_dir: Path = Field(Path("runs"), description="Folder that receives the run directories.")
    data: Component = Field(description="DataModule ('iact', 'tabular', ...) and its parameters.")
    model: Component | None = Field(None, description="Network from the model registry (trained with Lightning).")
    estimator: Component | None = Field(None, description="scikit-learn estimator (e.g. 'hillas_rf') instead of a network.")
    task: TaskConfig | None = Field(None, description="Heads and losses (required with `model`).")
    init_from: Path | None = Field(
        None,
        description="Warm start: a checkpoint (.ckpt) or run folder (its best checkpoint) whose network weights "
        "initialise `model` before training. Tensors of the same name and shape are copied, the others keep their "
        "initialisation; run.json lists them (fine-tuning, or a deeper network with `zero_init_last` grown from a "
        "shallower one). Optimizer and schedule start afresh.",
    )
    optimizer: Component = Field(
        default_factory=lambda: Component(name="adam", params={"lr": 1e-3}),
        description="torch optimizer; default adam with lr 1e-3 (`--set optimizer.params.lr=...` changes its rate).",
    )
    scheduler: Component | None = Field(None, description="Learning-rate scheduler, stepped once per epoch.")
    trainer: TrainerConfig = Field(default_factory=TrainerConfig)
    callbacks: list[Component] = Field(default_factory=list, description="Extra Lightning callbacks.")
    evaluation: Component | None = Field(None, description="Evaluator turning predictions into metrics and plots.")

    @model_validator(mode="after")
    def _model_xor_estimator(self) -> ExperimentConfig:
        if (self.model is None) == (self.estimator is None):
            raise ValueError("give exactly one of `model` (a network) or `estimator` (a scikit-learn baseline)")
        if self.init_from is not None and self.model is None:
            raise ValueError("`init_from` initialises a network's weights: it needs `model`, not `estimator`")
        if self.model is not None and self.task is None:
            raise ValueError("`task` (heads and losses) is required when training a `model`")
        if self.model is not None and self.trainer.max_epochs == 0 and self.init_from is None:
            raise ValueError("trainer.max_epochs: 0 evaluates a trained network without training: give it in `init_from`")
        return self

    def figure_formats(self) -> list[str] | None:
        """The formats the run's evaluator writes its figures in, where it names them (``figure_formats``); None:
        its default. The run's other figures (example inputs, a sweep's bands) follow them."""
        return self.evaluation.params.get("figure_formats") if self.evaluation is not None else None

    def ignored_sections(self) -> list[str]:
        """Problems of sections this experiment would silently ignore: those only a network uses, given with an
        estimator. Checked when a new run starts and by ``config validate``, not when an existing run's
        config.yaml is read (earlier versions accepted them, and their runs must still load).

        ``optimizer`` and ``scheduler`` are not among them: a baseline config extending a network's (and the
        config.yaml every run keeps) holds them, as the defaults of any variant that trains a network."""
        if self.estimator is None:
            return []
        given = [f"`{name}`" for name, present in (("task", self.task is not None), ("callbacks", bool(self.callbacks))) if present]
        return [f"an estimator run trains no network: remove {' and '.join(given)}"] if given else []
