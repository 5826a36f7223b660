"""`invoke check`: the check contract and registry, the runner, the context, the verdict and the reports."""
