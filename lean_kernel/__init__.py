"""The Lean 4 Jupyter kernel."""
