"""int8 deployment: quantize -> QuantizedModel -> memory plan -> C header -> the board.

arithmetic.py (TFLite's rounding and multipliers), ops.py (one class per int8 op: the
table quantize, memory_plan and export read), quantize.py (calibration and conversion),
quantized.py (QuantizedModel), runtime.py (a QuantizedModel as the C runtime's bb_model:
predict_int8 runs embedded/bb_runtime.c), memory_plan.py, export.py (the C header),
embedded.py (build and run embedded/ on the host or a QEMU board)."""
