"""hitl-console: review LangGraph runs paused at a human approval gate."""

__version__ = "0.1.0"
