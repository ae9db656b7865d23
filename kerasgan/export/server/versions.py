"""Model versions under a TF Serving model base path: which exist, which to load.

A version is a subdirectory named by a non-negative integer (ASCII digits only) that holds a
``saved_model.pb`` (or ``saved_model.pbtxt``). Anything else is ignored, in particular the
``.tmp-export-*`` directories a killed export leaves behind: an export becomes a version
only when it is renamed to its number, complete.
"""

from __future__ import annotations

import os

__all__ = ["available_versions", "resolve_export", "version_dirs", "version_fingerprint"]


def _is_saved_model(path):
    return os.path.isfile(os.path.join(path, "saved_model.pb")) or os.path.isfile(
        os.path.join(path, "saved_model.pbtxt")
    )


def version_dirs(base_dir) -> dict[int, str]:
    """``{version: directory path}`` of the versions under ``base_dir``."""
    if not os.path.isdir(base_dir):
        return {}
    found = {}
    for name in sorted(os.listdir(base_dir)):
        # str.isdigit() also accepts non-ASCII digits ("١٢"), which int() reads as 12.
        if name.isascii() and name.isdigit() and _is_saved_model(os.path.join(base_dir, name)):
            found.setdefault(int(name), os.path.join(base_dir, name))
    return found


def available_versions(base_dir) -> list[int]:
    """The numeric version subdirectories of ``base_dir`` that hold a SavedModel, ascending.

    Args:
        base_dir: a model base path, ``<base_dir>/<version>/saved_model.pb``.

    Returns:
        Sorted list of version numbers (empty if there is none). Directories whose
        name is not a number, such as the ``.tmp-export-*`` left by a killed export,
        are not versions.

    Example:
        >>> available_versions("/nonexistent")
        []
    """
    return sorted(version_dirs(os.fspath(base_dir)))


def resolve_export(base_dir, version=None, allow_version_dir=False) -> tuple[int | None, str]:
    """Finds the SavedModel to load under a TF Serving model base path.

    Args:
        base_dir: ``<base_dir>/<version>/saved_model.pb`` as TF Serving expects.
        version: int version to load; default: the highest available (TF
            Serving's "latest" policy).
        allow_version_dir: also accept ``base_dir`` being a SavedModel directory
            itself (then ``version`` must be None and the returned version is
            the directory's name if it is numeric, else None).

    Returns:
        ``(version, path)`` of the SavedModel directory.

    Raises:
        ValueError: if ``base_dir`` does not exist, holds no version with a
            SavedModel, or lacks the requested version.

    Example:
        >>> import kerasgan
        >>> from kerasgan import export
        >>> flow = kerasgan.flows.FlowModel((2,), [kerasgan.flows.MAF([8])])
        >>> _ = export.export_flow(flow, "/tmp/kerasgan_doc_resolve/flow", version=3)
        >>> resolve_export("/tmp/kerasgan_doc_resolve/flow", version=3)
        (3, '/tmp/kerasgan_doc_resolve/flow/3')
    """
    base_dir = os.fspath(base_dir)
    if version is not None and (
        isinstance(version, bool) or not isinstance(version, int) or version < 0
    ):
        raise ValueError(f"version must be a non-negative int. Received: version={version!r}")
    if not os.path.isdir(base_dir):
        raise ValueError(f"Export directory not found. Received: base_dir={base_dir!r}")
    dirs = version_dirs(base_dir)
    if not dirs:
        if _is_saved_model(base_dir):
            if allow_version_dir and version is None:
                name = os.path.basename(os.path.normpath(base_dir))
                return (int(name) if name.isascii() and name.isdigit() else None), base_dir
            raise ValueError(
                f"{base_dir!r} is a SavedModel directory itself, but a model base path with "
                "numbered version subdirectories (<dir>/<version>/saved_model.pb, as TF Serving "
                "expects) is needed: pass its parent directory. "
                f"Received: base_dir={base_dir!r}"
                + ("" if version is None else f", version={version!r}")
            )
        raise ValueError(
            "No version subdirectory holding a SavedModel (<dir>/<version>/saved_model.pb) "
            f"in {base_dir!r}; export one with kerasgan.export.export_generator or "
            f"export_flow. Received: base_dir={base_dir!r}"
        )
    if version is None:
        version = max(dirs)
    elif version not in dirs:
        raise ValueError(
            f"Version {version} not found in {base_dir!r}; available versions: {sorted(dirs)}. "
            f"Received: version={version!r}"
        )
    return version, dirs[version]


def version_fingerprint(path) -> tuple:
    """Names, sizes and modification times of a version directory's files (two levels).

    A version that failed to load is retried only when its fingerprint changes, so
    that a poller neither reloads a broken version every second nor misses a repair.

    Args:
        path: a version directory.

    Returns:
        A hashable tuple; equal tuples mean "unchanged".
    """
    entries = []
    try:
        with os.scandir(path) as top:
            for entry in top:
                stat = entry.stat(follow_symlinks=False)
                entries.append((entry.name, stat.st_size, stat.st_mtime_ns))
                if entry.is_dir(follow_symlinks=False):
                    with os.scandir(entry.path) as sub:
                        for child in sub:
                            cstat = child.stat(follow_symlinks=False)
                            entries.append(
                                (f"{entry.name}/{child.name}", cstat.st_size, cstat.st_mtime_ns)
                            )
    except OSError:
        return ()
    return tuple(sorted(entries))
