"""Scripted OpenAI-compatible server used by tests and benchmarks instead of a real model."""

from .server import FAULT_KINDS, ScriptedLLM

__all__ = ["FAULT_KINDS", "ScriptedLLM"]
