"""The OCFL object store: the storage root is the source of truth for every record, and the
only code that touches a path inside it is here.

The modules, along the store's sections: ``types`` (errors and value types), ``layout``
(names, the n-tuple layout, logical paths, the walk that finds objects), ``inventory``
(planning versions, inventories), ``sync`` (making writes durable), ``files`` (hashing,
copying and linking), ``store`` (``ObjectStore``: reading, staging, writing, locks, adopting
an imported object), ``maintenance`` (purge, recovery, verification), ``copy`` (backup copies
of the root and their restore). ``protocol.Storage`` writes down what services may use.
"""

from . import types
from .layout import LAYOUT_NAME, check_logical_path, layout_path
from .protocol import Storage
from .store import ObjectStore
from .types import *  # noqa: F403 - the errors and value types, listed in types.__all__

__all__ = ["LAYOUT_NAME", "ObjectStore", "Storage", "check_logical_path", "layout_path",
           *types.__all__]
