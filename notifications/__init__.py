"""notifications app."""
