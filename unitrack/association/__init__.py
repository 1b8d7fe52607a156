"""Association primitives shared by the MOT, MOTS and PoseTrack heads (UNITRACK_SPEC.md §4)."""

from unitrack.association.tracker import *  # noqa: F403
from unitrack.association.tracker import AssociationConfig, __all__, _rsm_cost_pairloop  # noqa: F401
