"""showerlearn: config-driven deep learning for event reconstruction in particle and astroparticle physics.

The package is layered; see ``docs/architecture.md`` for what each sub-package holds and may import.
The top-level modules (``registry``, ``family``, ``parallel``, ``progress``) are the base every layer builds on.
"""

__version__ = "0.1.0"
