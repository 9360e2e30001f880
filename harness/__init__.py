"""dfkd-bench's harness: everything that is neither a method (``methods/``) nor a task (``tasks/``).

The subpackages are the pipeline, in the order data flows through it; each imports only itself
and the ones above it (tests/unit/test_architecture.py checks it)::

    core/    the vocabulary: Synthesizer and Task interfaces, registry, config, losses, pool, errors
    record/  the MLflow store: runs, metrics, tags, artifacts; which code and machine made a run
    engine/  one run: plan (name -> resolved config) -> runner -> distill / supervised, checkpoints
    report/  stored runs -> cells -> leaderboard tables and Pareto plots; committed exports
    launch/  many runs: sweeps on this machine, Slurm or Ray; rerun of a stored run
    cli/     ``bench``: parses flags, calls one of the above, prints one line per error

Methods and tasks are plugins: they import ``core`` and ``engine`` and are found through the
registry by name, so the harness never imports them.
"""

__version__ = "0.1.0"
