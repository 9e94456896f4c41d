import csv
import io

from csvsniff.dialect import Dialect


def read_rows(text: str, dialect: Dialect) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text), delimiter=dialect.delimiter, quotechar=dialect.quotechar))
