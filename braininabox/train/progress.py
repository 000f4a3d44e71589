"""The per-epoch progress line fit() prints, Keras style.

On a terminal the line redraws in place (at most ten times a second); in a log file
only each epoch's final line is written, so CI logs stay short.
"""
import sys
import time

WIDTH = 30


def _duration(seconds):
    if seconds >= 3600:
        return f"{int(seconds // 3600)}:{int(seconds % 3600 // 60):02d}:{int(seconds % 60):02d}"
    if seconds >= 60:
        return f"{int(seconds // 60)}:{int(seconds % 60):02d}"
    return f"{seconds:.0f}s"


def format_logs(logs):
    # the learning rate in significant digits: 1e-05 would print as 0.0000
    return " - ".join(f"{k}: {v:.3g}" if k == "lr" else f"{k}: {v:.4f}" for k, v in logs.items())


class ProgressBar:
    def __init__(self, steps, verbose=1, stream=None):
        self.steps, self.verbose = steps, verbose
        self.stream = stream or sys.stdout
        self.live = verbose == 1 and getattr(self.stream, "isatty", lambda: False)()
        self.start = self.last_draw = time.perf_counter()

    def _line(self, step, samples, logs, final):
        elapsed = time.perf_counter() - self.start
        done = int(WIDTH * step / self.steps) if self.steps else WIDTH
        bar = "=" * done if final else "=" * max(done - 1, 0) + ">" + "." * (WIDTH - done)
        bar = bar[:WIDTH].ljust(WIDTH, ".")
        if final:
            timing = f"{_duration(elapsed)} {1000 * elapsed / max(step, 1):.0f}ms/step"
        else:
            timing = f"ETA: {_duration(elapsed / max(step, 1) * (self.steps - step))}"
        rate = f"{samples / elapsed:,.0f} samples/s" if elapsed > 0 else ""
        parts = [f"{step}/{self.steps} [{bar}]", timing, rate, format_logs(logs)]
        return " - ".join(p for p in parts if p)

    def update(self, step, samples, logs):
        now = time.perf_counter()
        if self.live and now - self.last_draw >= 0.1:
            self.last_draw = now
            self.stream.write("\r" + self._line(step, samples, logs, final=False))
            self.stream.flush()

    def finish(self, step, samples, logs):
        if self.verbose:
            self.stream.write(("\r" if self.live else "") + self._line(step, samples, logs, True) + "\n")
            self.stream.flush()
