"""One run of one robot: preflight → collect → for each invoice: read → decide → act → record →
report. See :mod:`paybot.run.runner`."""
