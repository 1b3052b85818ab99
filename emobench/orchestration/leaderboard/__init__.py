"""The report's pieces that tables.py calls: cell status and text (partial cells, n, intervals,
significance marks), the checkpoint identity of a row, the figures and the static HTML site."""
