"""The embedded robot's description and camera calibration, as training needs them.

Mirrors src/sim/scene.ts (link lengths, joint axes, camera poses and fields of view): the same
facts a real robot's URDF and camera calibration give. Used to turn a demonstration's own grasp
into the image position of the object its instruction names (rlds_data.locate_labels), with no
privileged scene state: where the gripper closed is where the object was.
"""
from __future__ import annotations

import math
from typing import Dict, Tuple

import numpy as np

SHOULDER_HEIGHT, UPPER_ARM, FOREARM_A, FOREARM_B, WRIST_LINK, GRASP_OFFSET = 0.16, 0.32, 0.12, 0.18, 0.05, 0.07


def _rz(a: np.ndarray) -> np.ndarray:
    c, s, z, o = np.cos(a), np.sin(a), np.zeros_like(a), np.ones_like(a)
    return np.stack([np.stack([c, -s, z], -1), np.stack([s, c, z], -1), np.stack([z, z, o], -1)], -2)


def _ry(a: np.ndarray) -> np.ndarray:
    c, s, z, o = np.cos(a), np.sin(a), np.zeros_like(a), np.ones_like(a)
    return np.stack([np.stack([c, z, s], -1), np.stack([z, o, z], -1), np.stack([-s, z, c], -1)], -2)


def _axes(xyaxes: Tuple[float, ...]) -> np.ndarray:
    """MuJoCo `xyaxes` -> rotation whose columns are the camera's x, y, z axes (z = x cross y)."""
    x = np.asarray(xyaxes[:3], np.float64)
    y = np.asarray(xyaxes[3:], np.float64)
    x /= np.linalg.norm(x)
    y -= x * (x @ y)
    y /= np.linalg.norm(y)
    return np.stack([x, y, np.cross(x, y)], 1)


# name -> (parent: "world" | "hand", position in the parent, rotation in the parent, fovy in degrees)
CAMERAS: Dict[str, Tuple[str, np.ndarray, np.ndarray, float]] = {
    "scene": ("world", np.array([0.98, 0.0, 0.6]), _axes((0, 1, 0, -0.62, 0, 0.785)), 48.0),
    "wrist": ("hand", np.array([0.0, -0.055, -0.01]), _axes((1, 0, 0, 0, -0.94, 0.34)), 75.0),
}


def hand_pose(q: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Joint angles [..., >=6] -> hand frame position [..., 3] and rotation [..., 3, 3]."""
    q = np.asarray(q, np.float64)
    r = _rz(q[..., 0])
    p = r @ np.array([0.0, 0.0, SHOULDER_HEIGHT])
    r = r @ _ry(q[..., 1])
    p = p + r @ np.array([0.0, 0.0, UPPER_ARM])
    r = r @ _ry(q[..., 2])
    p = p + r @ np.array([0.0, 0.0, FOREARM_A])
    r = r @ _rz(q[..., 3])
    p = p + r @ np.array([0.0, 0.0, FOREARM_B])
    r = r @ _ry(q[..., 4])
    p = p + r @ np.array([0.0, 0.0, WRIST_LINK])
    return p, r @ _rz(q[..., 5])


def grasp_point(q: np.ndarray) -> np.ndarray:
    """[..., >=6] joint angles -> the point between the finger pads [..., 3] (scene.ts `grasp` site)."""
    p, r = hand_pose(q)
    return p + r @ np.array([0.0, 0.0, GRASP_OFFSET])


def project(camera: str, q: np.ndarray, points: np.ndarray, size: int) -> Tuple[np.ndarray, np.ndarray]:
    """World points [..., 3] seen by `camera` with the arm at q [..., >=6] -> continuous pixel
    coordinates [..., 2] (x right, y down; pixel i spans [i, i + 1), src/sim/render.ts) of a
    size x size image, and whether each point is in front of the camera and inside the image."""
    parent, pos, rot, fovy = CAMERAS[camera]
    if parent == "hand":
        hp, hr = hand_pose(q)
        cam_p, cam_r = hp + hr @ pos, hr @ rot
    else:
        cam_p, cam_r = np.broadcast_to(pos, np.shape(points)), np.broadcast_to(rot, np.shape(points)[:-1] + (3, 3))
    d = np.asarray(points, np.float64) - cam_p
    c = np.einsum("...ji,...j->...i", cam_r, d)  # camera-frame coordinates (R^T d)
    depth = -c[..., 2]
    focal = (size / 2) / math.tan(math.radians(fovy) / 2)
    safe = np.where(depth > 1e-3, depth, 1.0)
    uv = np.stack([size / 2 + focal * c[..., 0] / safe, size / 2 - focal * c[..., 1] / safe], -1)
    inside = (depth > 1e-3) & (uv[..., 0] >= 0) & (uv[..., 0] < size) & (uv[..., 1] >= 0) & (uv[..., 1] < size)
    return uv, inside
