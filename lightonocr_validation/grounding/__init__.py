"""LightOnOCR-3's grounding mode: its block format (``blocks``), boxes scored against the drawn pages'
true blocks (``boxes``), the seeded readings that calibrate the scores (``readings``, ``calibration``)."""
