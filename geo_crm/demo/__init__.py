"""The demo network generator and demo users."""
