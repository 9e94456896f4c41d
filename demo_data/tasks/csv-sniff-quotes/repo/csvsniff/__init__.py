from csvsniff.dialect import Dialect
from csvsniff.reader import read_rows
from csvsniff.sniffer import SniffError, sniff

__all__ = ["Dialect", "SniffError", "read_rows", "sniff"]
