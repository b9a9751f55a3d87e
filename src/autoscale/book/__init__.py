"""The book layer: tables, studies, verdicts and figures made from run records.

- :mod:`~autoscale.book.results`: the main tables and the ablations (Tables 1-5);
- :mod:`~autoscale.book.study`: the LS sweeps and the metric-versus-performance study (Figs. 2-3);
- :mod:`~autoscale.book.verdict`: the paper's claims judged against the records;
- :mod:`~autoscale.book.inspect_gradients`, :mod:`~autoscale.book.toy`: gradient inspection of one
  run and the toy problems of the metrics chapter;
- :mod:`~autoscale.book.paper_reference`, :mod:`~autoscale.book.paper_comparison`: the paper's own
  tables (reference data), and its orderings, ranks, gaps and ratios beside ours;
- :mod:`~autoscale.book.provenance`: the provenance line of a page;
- :mod:`~autoscale.book.plots`: the figures.

It reads records through the experiments layer, as :class:`~autoscale.experiments.run_record.RunRecord`
views, and never trains by itself.
"""
