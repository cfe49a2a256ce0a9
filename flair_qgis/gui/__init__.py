"""The plugin's dialogs and widgets."""
