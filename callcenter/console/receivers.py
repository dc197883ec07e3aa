"""Signal receivers; filled by its owner."""
