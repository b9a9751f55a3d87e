"""AutoScale: linear scalarization guided by multi-task optimisation metrics (arXiv 2508.13979).

A replication package: MTO metrics (:mod:`autoscale.metrics`), weighting methods
(:mod:`autoscale.methods`), AutoScale itself (:mod:`autoscale.autoscale`), benchmarks, a trainer
and the experiment machinery behind the book.
"""

__version__ = "0.1.0"
