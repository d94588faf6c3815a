"""Textual stylesheets (TCSS), one per screen; shipped as console.styles."""
