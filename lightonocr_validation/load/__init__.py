"""Driving load at a server and what it measured: shared by `invoke bench` and the load check."""
