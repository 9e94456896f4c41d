"""Screens: explorer, help, observation."""
