"""Drift-diffusion decision models: densities, distributions, simulation and fitting."""
