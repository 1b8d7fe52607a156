"""Benchmarks: dataset readers/writers in native formats, metrics, and the generated demo benchmark."""
