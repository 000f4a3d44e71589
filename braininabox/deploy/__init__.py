"""int8 deployment: quantize -> QuantizedModel -> memory plan -> C header -> the board.

arithmetic.py (TFLite's rounding and multipliers), quantize.py (calibration and
conversion), quantized.py (QuantizedModel), memory_plan.py, export.py (the C header),
embedded.py (build and run embedded/ on the host or a QEMU board)."""
