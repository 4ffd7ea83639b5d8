"""Reusable workflow modules, one small file each, grouped by role.

:data:`BUILTIN_MODULES` indexes them by the name used in workflow files, so that a run imports only the modules
its workflow uses (runners pull in torch, nnU-Net or pyradiomics).  A test checks the index against the classes
found in this package: add a row when you add a module.
"""

BUILTIN_MODULES: dict[str, str] = {
    "BodyPartRegressionRunner": "mhubio.modules.runners.body_part_regression:BodyPartRegressionRunner",
    "BprLandmarkSREncoder": "mhubio.modules.encoders.bpr_sr_encoder:BprLandmarkSREncoder",
    "BprRegionSREncoder": "mhubio.modules.encoders.bpr_sr_encoder:BprRegionSREncoder",
    "CloseLabel": "mhubio.modules.processors.close_label:CloseLabel",
    "CombineLabelMaps": "mhubio.modules.processors.combine_label_maps:CombineLabelMaps",
    "DataOrganizer": "mhubio.modules.organizers.data_organizer:DataOrganizer",
    "DicomImporter": "mhubio.modules.importers.dicom_importer:DicomImporter",
    "FilterComponentsByDiameter": "mhubio.modules.processors.filter_components_by_diameter:FilterComponentsByDiameter",
    "KeepCentermostComponent": "mhubio.modules.processors.keep_centermost_component:KeepCentermostComponent",
    "KeepComponentsConnectedToRegion":
        "mhubio.modules.processors.keep_components_connected_to_region:KeepComponentsConnectedToRegion",
    "KeepLargestComponents": "mhubio.modules.processors.keep_largest_components:KeepLargestComponents",
    "MajorityVote": "mhubio.modules.processors.majority_vote:MajorityVote",
    "MaskOutsideFieldOfView": "mhubio.modules.processors.mask_outside_field_of_view:MaskOutsideFieldOfView",
    "NiftiConverter": "mhubio.modules.converters.nifti_converter:NiftiConverter",
    "NnunetV1MultiChannelRunner": "mhubio.modules.runners.nnunet_v1_multichannel:NnunetV1MultiChannelRunner",
    "NnunetV1Runner": "mhubio.modules.runners.nnunet_v1:NnunetV1Runner",
    "NnunetV2Runner": "mhubio.modules.runners.nnunet_v2:NnunetV2Runner",
    "PetCtPairImporter": "mhubio.modules.importers.petct_pair:PetCtPairImporter",
    "RadiomicsRunner": "mhubio.modules.runners.radiomics:RadiomicsRunner",
    "RadiomicsSREncoder": "mhubio.modules.encoders.radiomics_sr:RadiomicsSREncoder",
    "RemapLabels": "mhubio.modules.processors.remap_labels:RemapLabels",
    "ResampleToReference": "mhubio.modules.converters.resample_to_reference:ResampleToReference",
    "RestrictToRegion": "mhubio.modules.processors.restrict_to_region:RestrictToRegion",
    "RtstructEncoder": "mhubio.modules.encoders.rtstruct_encoder:RtstructEncoder",
    "RtstructImporter": "mhubio.modules.importers.rtstruct_importer:RtstructImporter",
    "SegEncoder": "mhubio.modules.encoders.seg_encoder:SegEncoder",
    "SegImporter": "mhubio.modules.importers.seg_importer:SegImporter",
    "TotalSegmentatorRunner": "mhubio.modules.runners.totalsegmentator:TotalSegmentatorRunner",
    "ZeroEdgeSlices": "mhubio.modules.processors.zero_edge_slices:ZeroEdgeSlices",
    "ZeroInsideBoundingBox": "mhubio.modules.processors.zero_inside_bounding_box:ZeroInsideBoundingBox",
}
"""Module name -> ``package.module:ClassName`` of every built-in module."""
