"""The trace's data: the tape's record layout, the graph schema and its one writer, the
JSON form, and the formula and number text every view shares."""
