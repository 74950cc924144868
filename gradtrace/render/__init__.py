"""Diagrams: label text, DOT generation, a fast layered layout, Graphviz output."""
