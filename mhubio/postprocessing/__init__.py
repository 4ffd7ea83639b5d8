"""Post-processing of segmentation label maps (numpy arrays ordered (z, y, x)).

Spacings are (x, y, z) in mm, as ``SimpleITK.Image.GetSpacing()`` returns them.
Every function validates its inputs, never modifies them, and returns a new
array of the input's dtype.
"""

from mhubio.postprocessing._validation import Connectivity
from mhubio.postprocessing.components import (
    CenterDistance,
    Component,
    find_components,
    keep_centermost_component,
    keep_largest_components,
)
from mhubio.postprocessing.ensemble import DEFAULT_VOTE_THRESHOLD, majority_vote
from mhubio.postprocessing.labels import Unmapped, label_voxel_counts, merge_labels, remap_labels
from mhubio.postprocessing.masking import (
    RegionSide,
    field_of_view_mask,
    keep_components_connected_to_region,
    mask_outside_field_of_view,
    region_from_labels,
    restrict_to_region,
)
from mhubio.postprocessing.morphology import (
    close_label,
    structuring_element,
    zero_edge_slices,
    zero_inside_bounding_box,
)
from mhubio.postprocessing.size import (
    DiameterMeasure,
    MeasuredComponent,
    filter_components_by_diameter,
    measure_components,
)

__all__ = [
    "DEFAULT_VOTE_THRESHOLD",
    "CenterDistance",
    "Component",
    "Connectivity",
    "DiameterMeasure",
    "MeasuredComponent",
    "RegionSide",
    "Unmapped",
    "close_label",
    "field_of_view_mask",
    "filter_components_by_diameter",
    "find_components",
    "keep_centermost_component",
    "keep_components_connected_to_region",
    "keep_largest_components",
    "label_voxel_counts",
    "majority_vote",
    "mask_outside_field_of_view",
    "measure_components",
    "merge_labels",
    "region_from_labels",
    "remap_labels",
    "restrict_to_region",
    "structuring_element",
    "zero_edge_slices",
    "zero_inside_bounding_box",
]
