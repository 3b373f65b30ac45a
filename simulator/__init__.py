"""Tepat Edge simulator: the whole terminal without hardware."""
