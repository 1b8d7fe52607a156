"""Application layer: the command line, sweeps, reports, visualisation and the correlation study.

Everything here is built on the framework (``unitrack.api``, ``unitrack.tasks``, ``unitrack.results``)
and the task specs; nothing below this package imports from it.
"""
