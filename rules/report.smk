"""Stage 5: gather every result into the comparison report (issue: report)."""
