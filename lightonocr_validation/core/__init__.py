"""The shared core: configuration, errors, redaction, cancellation, output files; imports no other wing."""
