"""Skills: runs coworkers' skills, step by step, against (sandboxed) enterprise systems."""
