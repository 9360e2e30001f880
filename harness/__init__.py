"""dfkd-bench's engine: everything that is neither a method nor a task."""

__version__ = "0.1.0"
