"""`invoke tune`: serve each configuration of a grid, bench it, name the best."""
