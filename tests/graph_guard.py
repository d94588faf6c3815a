"""The preamble of scripts that play the console in a subprocess: importing the graph
module fails there, and `graph_modules()` lists any that got in anyway (none may)."""

BLOCK_GRAPHS = r'''
import sys

class _NoGraphs:
    def find_spec(self, name, path=None, target=None):
        if name == "tests.graphs" or name.startswith("tests.graphs."):
            raise ImportError("the console process must not import the graph module")
        return None

sys.meta_path.insert(0, _NoGraphs())

def graph_modules():
    return sorted(m for m in sys.modules if m == "tests.graphs" or m.startswith("tests.graphs."))
'''
