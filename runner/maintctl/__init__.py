"""maintctl: the orchestrator of the preventive maintenance project."""

__version__ = "0.1.0"
