"""Stage 3: matmul benchmark, naive loops vs NumPy vs torch CPU vs CUDA (issue: benchmark)."""
