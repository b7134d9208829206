"""The parts of the scripted Lean stand-in; its entry point and rules: ``tests/lean_standin.py``."""
