"""Training: models (model.py), losses, optimizers, metrics, callbacks and the progress bar."""
