"""pointkit datasets: views with (optional) depth and cameras, plus correspondences per view pair.

The on-disk format is described in docs/dataset-format.md; ``pointkit.data.format`` reads and
writes it and is the only code that touches the files.
"""

from pointkit.data.format import (  # noqa: F401
    FORMAT_NAME,
    FORMAT_VERSION,
    Dataset,
    ObjectRecord,
    read_object,
    write_object,
)
