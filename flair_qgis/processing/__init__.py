"""The plugin's Processing provider and its algorithms."""
