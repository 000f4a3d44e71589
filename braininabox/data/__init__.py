"""Data: the DataLoader (loader.py) and the data set loaders (datasets.py)."""
from . import datasets
from .augment import ImageAugment
from .loader import DataLoader

__all__ = ["DataLoader", "ImageAugment"]
