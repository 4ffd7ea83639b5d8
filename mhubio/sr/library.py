"""TID 1600 Image Library with the context shared by the images stated once.

highdicom's :class:`~highdicom.sr.ImageLibrary` repeats every TID 1602 descriptor (modality, frame of reference,
rows, columns, pixel spacing, orientation, position, slice thickness) under each image: 16 content items per slice,
which makes the SR of a CT of a few hundred slices too large for some readers (PixelMed's SR validator needs GBs of
heap).  TID 1600 allows an Image Library Group to carry the descriptors its images share; here each group carries
those once and each image entry only the descriptors that differ from image to image (for a CT, the position along
the slice normal).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import cast

import highdicom as hd
import pydicom
from highdicom.sr import RelationshipTypeValues
from pydicom.sr.codedict import codes

__all__ = ["SOURCE", "image_library"]

SOURCE = hd.sr.CodedConcept("260753009", "SCT", "Source")
"""Concept name of an Image Library Entry (TID 1601), as highdicom and dcmqi write it."""


def _key(item: pydicom.Dataset) -> str:
    """The descriptor's concept name and value, as comparable text."""
    return json.dumps(item.to_json_dict(), sort_keys=True)


def image_library(
    images: Sequence[pydicom.Dataset], frame_numbers: Sequence[int] | None = None
) -> hd.sr.ContainerContentItem:
    """The Image Library container (TID 1600) of ``images``: one entry per image, shared context once.

    Images are grouped by SOP Class and Frame of Reference (one Image Library Group each, in the order of first
    appearance); a group's TID 1602 descriptors that are equal for all its images are stated once on the group,
    the others on each image's entry.

    Parameters
    ----------
    images:
        Headers of the images (pixel data not needed), each listed once, in the order given; for the frames of
        a multi-frame image, one header per frame with the frame's geometry (:func:`mhubio.sr.frames.frame_views`).
    frame_numbers:
        The frame number of each header, for frames of multi-frame images (written as ReferencedFrameNumber).

    Raises
    ------
    ValueError
        If ``images`` is empty, lists an image (or frame) twice, holds a non-image object, or ``frame_numbers``
        does not give one number per image.
    """
    if not images:
        raise ValueError("an image library needs at least one image")
    frames: Sequence[int | None] = [None] * len(images) if frame_numbers is None else frame_numbers
    if len(frames) != len(images):
        raise ValueError(f"{len(frames)} frame numbers for {len(images)} images")
    keys = [(str(ds.SOPInstanceUID), frame) for ds, frame in zip(images, frames, strict=True)]
    if len(set(keys)) != len(keys):
        raise ValueError("an image library lists each image (or frame) once; SOPInstanceUIDs repeat")
    groups: dict[tuple[str, str], list[tuple[pydicom.Dataset, int | None]]] = {}
    for ds, frame in zip(images, frames, strict=True):
        groups.setdefault((str(ds.SOPClassUID), str(ds.get("FrameOfReferenceUID", ""))), []).append((ds, frame))
    library = hd.sr.ContainerContentItem(name=codes.DCM.ImageLibrary, relationship_type=RelationshipTypeValues.CONTAINS)
    library.ContentSequence = hd.sr.ContentSequence([_group(members) for members in groups.values()])
    return library


def _group(members: Sequence[tuple[pydicom.Dataset, int | None]]) -> hd.sr.ContainerContentItem:
    images = [ds for ds, _ in members]
    descriptors = [cast(list[hd.sr.ContentItem], list(hd.sr.ImageLibraryEntryDescriptors(ds))) for ds in images]
    keys = [[_key(item) for item in items] for items in descriptors]
    shared = set(keys[0]).intersection(*map(set, keys[1:]))
    group = hd.sr.ContainerContentItem(
        name=codes.DCM.ImageLibraryGroup, relationship_type=RelationshipTypeValues.CONTAINS
    )
    content = hd.sr.ContentSequence([item for item, key in zip(descriptors[0], keys[0], strict=True) if key in shared])
    for (ds, frame), items, item_keys in zip(members, descriptors, keys, strict=True):
        entry = hd.sr.ImageContentItem(
            name=SOURCE,
            referenced_sop_class_uid=ds.SOPClassUID,
            referenced_sop_instance_uid=ds.SOPInstanceUID,
            referenced_frame_numbers=frame,
            relationship_type=RelationshipTypeValues.CONTAINS,
        )
        own = [item for item, key in zip(items, item_keys, strict=True) if key not in shared]
        if own:
            entry.ContentSequence = hd.sr.ContentSequence(own)
        content.append(entry)
    group.ContentSequence = content
    return group
