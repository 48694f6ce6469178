"""Networks the IACT family ships with the package, with where they came from.

``CPU_BENCHMARK`` is gamma-PhysNet-DA of the project's CPU benchmark against Hillas + RF
(``benchmarks/physics_vs_baseline.py --preset cpu``), trained again with the config of the run kept in
``benchmarks/results/physics_vs_baseline_cpu_260k_lstchain_cleaning/network_run/`` (the same 260,000 simulated
events, split and seed; that run's checkpoint was not kept): its weights and config in
``gamma_physnet_da_cpu_benchmark.ckpt``, its provenance (command, commit, training-data digest, training
time, test-set metrics of the network and of the baseline) in the ``.json`` beside it. Written by
``benchmarks/package_pretrained.py``; ``CPU_BENCHMARK.evaluate(overrides)`` applies it to new events.

May import: showerlearn.engine.
"""

from pathlib import Path

from showerlearn.engine.pretrained import PretrainedNetwork

__all__ = ["CPU_BENCHMARK"]

CPU_BENCHMARK = PretrainedNetwork(Path(__file__).parent / "gamma_physnet_da_cpu_benchmark.ckpt")
