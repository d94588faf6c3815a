"""LangGraph Agent Server as a source: read (and decided) through its API, with the
official `langgraph-sdk` imported only when a server is named (it costs ~0.9 s)."""
