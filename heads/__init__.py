"""Level-3 task heads: thin compositions of the unitrack primitives, one module per task."""
