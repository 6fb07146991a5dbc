"""Bending: pure transforms over tensors, nested seeded masks, slot chains, and the tensor bank."""
