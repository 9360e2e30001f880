"""The record of every run: the MLflow tracking store (sqlite by default, a server when given) and
the provenance tags that say which commit and which cores produced a number."""
