"""Data-free synthesizers and baselines, declared lazily so listing them imports no torch.

Each entry points at a ``MethodSpec`` in the method's own module (one file per family).
"""

from harness.registry import BASELINES, METHODS

for _name in ("fast2", "fast5", "fast10", "fast50", "fast"):
    METHODS.register(_name, f"methods.fast:{_name}")
METHODS.register("deepinv", "methods.deepinv:deepinv")
METHODS.register("cmi", "methods.cmi:cmi")
for _name in ("dafl", "zskt", "dfq", "dfad"):
    METHODS.register(_name, f"methods.generative:{_name}")
for _name in ("teacher", "scratch", "kd"):
    BASELINES.register(_name, f"methods.baselines:{_name}")
