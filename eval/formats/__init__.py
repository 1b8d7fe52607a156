"""The benchmarks' shared file formats, each read in exactly one place.

Every dataset reader in :mod:`unitrack.eval`, every head and the visualisation use these:

* :mod:`~unitrack.eval.formats.frames`: frame folders (:func:`list_frames`, :func:`frame_number`)
  and MOTChallenge / MOTS ``seqinfo.ini`` (:func:`read_seqinfo`);
* :mod:`~unitrack.eval.formats.mot_txt`: MOTChallenge txt — ground truth, detections, results
  (:func:`read_mot_txt`);
* :mod:`~unitrack.eval.formats.mots_txt`: MOTS txt with COCO RLE masks (:func:`read_mots_txt`,
  :func:`rle_counts_error`);
* :mod:`~unitrack.eval.formats.posetrack_json`: PoseTrack-18 / -17 JSON (:func:`read_posetrack_json`);
* :mod:`~unitrack.eval.formats.davis_png`: the DAVIS palette and indexed PNG masks (:func:`davis_palette`,
  :func:`read_mask`, :func:`write_mask`).

Errors are :class:`~unitrack.utils.UnitrackError` naming the file (and the line in text formats).
"""

from unitrack.eval.formats.davis_png import (
    PALETTE,
    PALETTE_FLAT,
    davis_palette,
    mask_palette,
    read_mask,
    write_mask,
)
from unitrack.eval.formats.frames import (
    IMAGE_EXTS,
    frame_number,
    list_frames,
    read_seqinfo,
    require_prediction_folders,
)
from unitrack.eval.formats.mot_txt import DET_COLUMNS, read_mot_txt
from unitrack.eval.formats.mots_txt import MOTSRow, read_mots_txt, rle_counts_error
from unitrack.eval.formats.posetrack_json import (
    JOINT_NAMES,
    NUM_JOINTS,
    PT17_LIMBS,
    PT18_KEYPOINTS,
    PT18_LIMBS,
    PT18_TO_PT17,
    PTFrame,
    PTPerson,
    PTVideo,
    read_posetrack_json,
)

__all__ = [
    "DET_COLUMNS", "IMAGE_EXTS", "JOINT_NAMES", "NUM_JOINTS", "PALETTE", "PALETTE_FLAT", "PT17_LIMBS",
    "PT18_KEYPOINTS", "PT18_LIMBS", "PT18_TO_PT17", "MOTSRow", "PTFrame", "PTPerson", "PTVideo", "davis_palette", "require_prediction_folders",
    "frame_number", "list_frames", "mask_palette", "read_mask", "read_mot_txt", "read_mots_txt",
    "read_posetrack_json", "read_seqinfo", "rle_counts_error", "write_mask",
]
