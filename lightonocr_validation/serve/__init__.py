"""`invoke serve`, `invoke stop`, `invoke tiny-model`: start, watch and stop vLLM servers."""
