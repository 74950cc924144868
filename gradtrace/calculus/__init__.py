"""The chain rule over the tape, finite differences, re-running the function on moved
inputs, and which inputs a descent step moves."""
