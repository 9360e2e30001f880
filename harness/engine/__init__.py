"""One run, start to finish: ``plan`` resolves a method, task, pair, budget and overrides into a
config; ``runner`` builds the networks and the synthesizer, loops over epochs (``distill`` for
data-free methods, ``supervised`` for teachers and baselines), times synthesis (``timing``),
checkpoints and resumes (``checkpoint``, ``resume``, ``ownership``) and logs to ``record``."""
