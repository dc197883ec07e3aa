"""callcenter app."""
