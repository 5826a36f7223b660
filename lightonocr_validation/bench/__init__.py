"""`invoke bench`: pages per second, latency and accuracy under load, in OCR's own units.

benchcore's modules: pages (prepared pages), transport (one timed request), driver (a load point),
figures (what a point's requests add up to), plan (sweeps, the SLO search, repeated runs), result (the JSON),
live (progress and the end table), command (the task's body). benchreport's modules read the result JSON:
charts, html_report, compare.
"""
