"""ExpertLoop: expert-in-the-loop AI training programs, end to end."""

__version__ = "0.1.0"
