"""The console's own widgets.

Nothing is re-exported here: importing one widget module (the queue table, for the
first frame) must not import the others (the edit form's text area, the detail pane's
renderers), which load after the first frame.
"""
