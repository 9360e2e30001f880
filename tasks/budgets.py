"""Budget tables shared by the embedded classification tasks (digits, Fashion-MNIST).

No reference settings exist for them (docs/methods.md#decision-embedded-tasks): ``paper`` is every method's
own settings,
``quick`` keeps each method's per-round step count (Fast: 44 rounds of 128 images, 40 KD steps a
round; DeepInv and CMI: fewer, smaller rounds, their steps being 400x and 100x a Fast-5 round's;
the generative methods: 20 epochs of 40 student steps), ``smoke`` proves the plumbing.
"""

from __future__ import annotations

from typing import Any

DATA_FREE = ("fast_meta", "fast", "deepinv", "cmi", "dafl", "zskt", "dfq", "dfad")
GENERATORS = ("fast_meta", "fast", "cmi", "dafl", "zskt", "dfq", "dfad")
BASELINES = ("teacher", "scratch", "kd")
QUICK_POOL = {"epochs": 44, "kd_steps": 40, "ep_steps": 40, "batch_size": 128, "synthesis_batch_size": 128}
QUICK_GENERATIVE = {"epochs": 20, "ep_steps": 40, "batch_size": 128, "synthesis_batch_size": 128}
SMOKE = {"epochs": 2, "kd_steps": 2, "ep_steps": 2, "batch_size": 16, "synthesis_batch_size": 16,
         "eval_batch_size": 512}

Table = dict[str, dict[str, dict[str, Any]]]


def embedded_classification(**quick: dict[str, Any]) -> Table:
    """The three budgets of an embedded classification task; ``quick`` replaces families' entries."""
    return {
        "paper": {key: {} for key in (*DATA_FREE, *BASELINES)},
        "quick": {
            "fast_meta": QUICK_POOL,
            "fast": QUICK_POOL,
            "deepinv": {"epochs": 6, "kd_steps": 40, "ep_steps": 40, "batch_size": 128, "synthesis_batch_size": 64},
            "cmi": {"epochs": 4, "kd_steps": 40, "ep_steps": 40, "batch_size": 128, "synthesis_batch_size": 64},
            **{key: QUICK_GENERATIVE for key in ("dafl", "zskt", "dfq", "dfad")},
            "teacher": {},
            "scratch": {"epochs": 20, "batch_size": 64},
            "kd": {"epochs": 20, "batch_size": 64},
            **quick,
        },
        "smoke": {
            **{key: SMOKE for key in DATA_FREE},
            "fast_meta": {**SMOKE, "g_steps": 2},
            "fast": {**SMOKE, "g_steps": 2},
            "deepinv": {**SMOKE, "g_steps": 3},
            "cmi": {**SMOKE, "g_steps": 3},
            "dfq": {**SMOKE, "kd_steps": 1},
            "teacher": {},
            "scratch": {"epochs": 1, "batch_size": 128},
            "kd": {"epochs": 1, "batch_size": 128},
        },
    }
