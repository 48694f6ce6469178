"""Collider networks, one file each, registered by name: the multi-scale cross-attention transformer
(``collider_multiscale``), a transformer on one stream (``collider_transformer``), the one-scale
transformer over both token sets (``collider_one_scale``), the two-stream concatenation network
(``collider_concat``) and an MLP on the objects' kinematics (``collider_mlp``). Each reads the inputs
of the ``collider`` DataModule and returns ``{"label": logits}``; the transformers name the layer
Grad-CAM explains by default (``explain_layer``) and the stream its tokens belong to (``explain_stream``;
the two-stream networks name the stream of any layer, ``explain_stream_of``).

May import: showerlearn.collider.nn, showerlearn.models.attention, showerlearn.registry, torch.
"""
