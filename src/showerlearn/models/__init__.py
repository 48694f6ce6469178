"""Detector-agnostic networks, one readable file each, registered by name in
``showerlearn.registry.MODELS`` (timm style). Networks bound to one detector live in their family
(``showerlearn.iact.models``). ``attention``: the multi-head attention every family's attention networks
use, which exports to ONNX with any batch.

May import: showerlearn.registry, torch.
"""

