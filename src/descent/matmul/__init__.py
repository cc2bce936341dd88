"""The matmul benchmark: Lesson 0's naive loops against NumPy, torch on the CPU and torch on CUDA.

Modules, each usable and tested on its own:

* :mod:`~descent.matmul.backends` — the backend registry: one module per backend family (the two
  naive loops, NumPy's BLAS, torch CPU/CUDA), each entry declaring its name, device, whether it
  needs torch, whether it is naive, the dtype it computes in, its runner factory and its style;
* :mod:`~descent.matmul.config` — cross-field checks of the ``benchmark:`` section and the rules'
  resource estimates (imported at parse time: light);
* :mod:`~descent.matmul.products` — seeded ``(n, n)`` operands, the float64 reference, the error bound;
* :mod:`~descent.matmul.measure` — one backend over every size and dtype (timed with the one
  harness, :func:`descent.timing.time_callable`), naive loops extrapolated as O(n³) beyond their
  limits, Lesson 0's loop also at the lesson's n = 500;
* :mod:`~descent.matmul.table` — the columns of ``matmul.parquet`` (a contract) and the typed frame;
* :mod:`~descent.matmul.job` — what one Snakemake job does (:func:`~descent.matmul.job.run_matmul_job`);
* :mod:`~descent.matmul.notes` — plain-language notes on a job's rows;
* :mod:`~descent.matmul.gather` — the combined table and the machine-facts sidecar;
* :mod:`~descent.matmul.plots` — GFLOP/s and speed-up figures;
* :mod:`~descent.matmul.machine` — CPU/BLAS/GPU facts and the peak estimate, with sources.

Timing-dependent columns (:data:`~descent.matmul.table.TIMING_COLUMNS`) differ from run to run;
every other column is reproducible bit for bit for the same configuration on the same machine.
"""
