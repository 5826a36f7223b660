"""Accuracy engine: normalization, edit-distance metrics, olmOCR-style facts and per-page grading."""
