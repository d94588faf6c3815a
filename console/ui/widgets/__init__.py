"""The console's own widgets."""

from console.ui.widgets.banner import Banner
from console.ui.widgets.detail import DetailPane
from console.ui.widgets.filter_bar import FilterBar
from console.ui.widgets.queue_table import QueueTable
from console.ui.widgets.status_line import StatusInfo, StatusLine

__all__ = ["Banner", "DetailPane", "FilterBar", "QueueTable", "StatusInfo", "StatusLine"]
