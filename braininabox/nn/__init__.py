"""Tensors and what is built from them: autograd (tensor.py), the functional ops over the C
kernels (functional.py), and layers (layer.py: the base class; layers.py, recurrent.py)."""
