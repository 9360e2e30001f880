"""Data-free synthesizers and baselines, declared lazily so listing them imports no torch.

Each entry points at a ``MethodSpec`` in the method's own module (one file per family).
"""

from harness.registry import BASELINES, METHODS

for _name in ("fast2", "fast5", "fast10", "fast50", "fast"):
    METHODS.register(_name, f"methods.fast:{_name}")
METHODS.register("deepinv", "methods.deepinv:deepinv")
