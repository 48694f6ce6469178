"""Layers of the collider networks: pre-norm self- and cross-attention blocks with masked padding
(``attention``), Particle-Transformer pairwise features as an attention bias (``pairwise``), and token
embedding, stream encoders, pooling and the classifier head (``blocks``).

May import: showerlearn.models.attention, torch (and each other).
"""
