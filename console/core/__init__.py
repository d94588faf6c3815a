"""The pure core of hitl-console: no Textual import anywhere below this package."""
