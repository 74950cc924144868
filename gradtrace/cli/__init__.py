"""The command line (``main``), its one-line error reports, loading ``file.py:function``
targets, and the committed gallery."""
