"""Command-line entry points: ``python -m autoscale`` (:mod:`~autoscale.commands.cli`), its
``records`` commands and the GPU session (``python -m autoscale.commands.gpu_session``)."""
