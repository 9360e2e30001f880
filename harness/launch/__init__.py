"""Many runs: a sweep over a grid of cells, each one ``bench run`` process, on this machine, on
Slurm (submitit) or on Ray; and the rerun of a stored run from its recorded settings."""
