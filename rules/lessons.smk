"""Stage 4: Lesson 0's foundations as computed outputs (issue: lessons)."""
