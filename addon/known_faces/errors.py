"""Errors with a stable machine-readable code.

Every error a user can cause carries a ``code`` that the HTTP API returns as ``{"error": code}``,
the CLI prints, and the integration maps to a translated message, so the three never drift apart.
"""

from __future__ import annotations


class KnownFacesError(Exception):
    """Base class: ``code`` is stable, the message is for people."""

    code = "error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code

    @property
    def message(self) -> str:
        """The human-readable text."""
        return str(self)


class InvalidImage(KnownFacesError):
    """The payload is empty, corrupt, truncated or not an image format we decode."""

    code = "invalid_image"


class ImageTooLarge(KnownFacesError):
    """The image exceeds the byte or pixel limit (decompression-bomb guard)."""

    code = "image_too_large"


class InvalidName(KnownFacesError):
    """A person's name is empty, too long or path-like."""

    code = "invalid_name"


class DuplicateName(KnownFacesError):
    """Another person already has this name (or a name with the same slug)."""

    code = "duplicate_name"


class UnknownPerson(KnownFacesError):
    """No enrolled person has this slug."""

    code = "unknown_person"


class UnknownFace(KnownFacesError):
    """The person has no face with this id."""

    code = "unknown_face"


class EnrollmentRejected(KnownFacesError):
    """An enrollment image failed the strict gates; ``code`` says why.

    Codes: ``no_face``, ``several_faces``, ``too_small``, ``blurred``, ``low_quality``.
    """

    code = "low_quality"


class InvalidArchive(KnownFacesError):
    """A gallery archive is not one this version wrote, or is damaged."""

    code = "invalid_archive"


class ModelError(KnownFacesError):
    """A model is missing, fails verification or cannot be installed."""

    code = "model_error"


class StorageError(KnownFacesError):
    """The gallery could not be written (disk full, I/O error, database locked too long); the
    change was rolled back, so the gallery is as it was before."""

    code = "storage_error"


class UnknownCamera(KnownFacesError):
    """No camera of this name has a stream (live view, enroll from the face in view)."""

    code = "unknown_camera"


class UnknownVisitor(KnownFacesError):
    """No visitor has this id (never had, forgotten, merged, assigned or purged)."""

    code = "unknown_visitor"


class DoesNotMatchPerson(EnrollmentRejected):
    """A new photo of a person scores under the match threshold against that person's other
    photos: probably the wrong person (a photo in the wrong folder poisons a gallery). Refused
    unless forced; a forced enrollment answers with the same code as a warning."""

    code = "does_not_match_person"
