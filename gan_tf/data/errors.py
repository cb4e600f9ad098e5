"""The two errors a data source raises, each with a one-line message naming the fix.

`DatasetUnavailableError`: the data is not on this machine (not prepared, no manual
files, no network). `DataFileError`: the data is there but a file of it cannot be used
(corrupt, truncated, not what its name says); the message names the file and what to
do (download it again, delete a prepared copy...). Bad arguments raise plain
`ValueError`s; `DataFileError` is one too, so a CLI that reports `ValueError`s in one
line reports these as well.
"""


class DatasetUnavailableError(RuntimeError):
    """A dataset is neither prepared on disk nor downloadable; the message says how."""


class DataFileError(ValueError):
    """A file of a dataset is unreadable, truncated or corrupt; the message names it and
    the fix."""
