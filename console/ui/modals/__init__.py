"""Dialogs shown over the main screen."""
