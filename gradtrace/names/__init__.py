"""Names from the user's code: where a value is stored (read off the bytecode), versions
of a reassigned name, scope instances, and which frames are the user's."""
