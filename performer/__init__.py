"""Performer: a live-performance server for network bending of neural audio models."""

__version__ = "0.1.0"
