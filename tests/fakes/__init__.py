"""Test doubles for hardware this machine lacks."""
