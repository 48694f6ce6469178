"""Detector-agnostic networks, one readable file each, registered by name in
``showerlearn.registry.MODELS`` (timm style). Networks bound to one detector live in their family
(``showerlearn.iact.models``).

May import: showerlearn.registry, torch.
"""

