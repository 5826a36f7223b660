"""`invoke bench`: pages per second, latency and accuracy under load, in OCR's own units.

The load itself is driven by the shared wing load/ (pages, transport, driver, records, figures, server time),
which the load check PRF002 uses too. Here: plan (sweeps, the SLO search, repeated runs), runner (every host at
once), result (the JSON), live (progress and the end table), command (the task's body); and what reads the
result JSON: readout, charts, html_report, compare, scaling.
"""
