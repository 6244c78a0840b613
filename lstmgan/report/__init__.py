"""Stage `report`: every stage's results as one results chapter, reports/REPORT.md (and .html).

- :mod:`~lstmgan.report.gather`: read what every stage wrote (missing inputs are empty, never an error);
- :mod:`~lstmgan.report.discuss`: the thesis-vs-reproduction rows and every sentence, by one rule
  (a difference is claimed only when its 95% interval excludes zero);
- :mod:`~lstmgan.report.figures`: the pictures, in one small committed folder;
- :mod:`~lstmgan.report.render`: Markdown + HTML and :func:`build_report`, the stage's entry point.
"""
from lstmgan.report.render import build_report

__all__ = ["build_report"]
