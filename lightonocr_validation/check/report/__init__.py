"""The one place results are rendered: the console (live and final), JSON, JUnit XML and Markdown."""
