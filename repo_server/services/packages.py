"""Transfer packages: dossiers or a whole fonds as a zipped BagIt bag, and its import into
another repository (TT 05/2025 transfer; docs/decisions/0004-packages.md).

A package (BagIt 0.97, as the `bagit` tool writes; SHA-256 and SHA-512 manifests)::

    bagit.txt
    data/objects/                   an OCFL 1.1 storage root with the exported objects exactly
                                    as stored: every version with its date, user and message,
                                    the metadata JSON of each version, files, extracted text
    data/metadata/<file code>.xml   TT 05 file elements of each dossier
    data/metadata/<doc code>.xml    TT 05 document elements of each document
    data/history/<dossier id>.json  the version lists and the audit events of the dossier and
                                    its documents
    manifest-sha256.txt  manifest-sha512.txt  bag-info.txt  tagmanifest-sha256.txt  ...

Export streams the ZIP as it is built: files are read in chunks, manifest lines and the ZIP's
central-directory entries go to temporary files (so memory does not grow with the number of
files), and the digests of stored content are the ones the OCFL inventories already hold (each
file's sha512, and the sha256 of the fixity block), so nothing is read twice.

Import unpacks into the storage's staging folder, validates the bag with the `bagit` package
(every checksum) and every object with the OCFL verifier, checks references and conflicts
against this repository, and only then moves the object folders into the storage root (a
rename on the same file system) and mirrors them in the catalog, dossier by dossier.
"""

from .package_common import (  # noqa: F401 - the package's public names, as before
    ALGORITHMS,
    BAGIT_VERSION,
    FORMAT,
    MAX_DOSSIER_IDS,
    InsufficientStorage,
    PackageConflict,
    PackageRejected,
)
from .package_export import (  # noqa: F401
    ExportSelection,
    PackageExport,
    _BagWriter,
    _Sink,
    export_to_file,
    prepare_export,
)
from .package_import import (  # noqa: F401
    MAX_ENTRY_RATIO,
    MAX_PACKAGE_RATIO,
    import_package,
)
