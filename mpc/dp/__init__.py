"""Differential privacy for Tessera: exact samplers, noise inside MPC, mechanisms, accountant."""
