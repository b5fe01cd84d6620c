"""JEEX Plan: an idea becomes a reviewed documentation package, written by LLM agents."""

__version__ = "0.1.0"
