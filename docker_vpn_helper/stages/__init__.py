"""The stages' logic, one module each: plan with the core, act through the adapters.

Each function takes the run's Session; the invoke tasks in ../tasks are thin wrappers.
"""
