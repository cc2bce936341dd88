"""Stage 2: fit every dataset with every method, raw and standardized (issue: fits)."""
