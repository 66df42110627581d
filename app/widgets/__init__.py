"""Panel sections, one small class per file."""
