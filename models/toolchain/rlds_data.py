"""Read vlad's RLDS datasets (TFDS TFRecord shards of tf.train.Example) without TensorFlow, and
turn episodes into training samples.

Spec: /work/shared/reference/rlds-format.md. One record = one episode = one Example whose
`steps/*` keys hold all T steps concatenated; images are PNG/JPEG bytes, one per step.

  framing : u64le len | u32le masked_crc32c(len) | data | u32le masked_crc32c(data)
  Example : parsed by the protobuf library from messages declared below with descriptor_pb2
            (the tensorflow/core/example/{example,feature}.proto field numbers)

A training sample at step t of an episode: the observation (both cameras, uint8 HWC), the
instruction's token ids (tokenizer.py, padded to max_tokens), the normalized state, and the
normalized action chunk actions[t : t+H], padded past the episode's end by repeating the last
action (the arm holds), with a 0/1 mask marking the padded steps.
"""
from __future__ import annotations

import glob
import io
import json
import os
import struct
import zlib
from dataclasses import dataclass, field
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

try:
    import crc32c as _crc32c  # Debian python3-crc32c (hardware CRC32C)
except ImportError:  # pragma: no cover - slow pure-Python fallback
    _crc32c = None

import rig  # noqa: E402
import tokenizer as TK

# ---------------------------------------------------------------------------------------------
# tf.train.Example as protobuf messages, declared in code (no generated module, no TensorFlow).


def _example_classes():
    fdp = descriptor_pb2.FileDescriptorProto(name="vlad_tf_example.proto", package="vlad_tf",
                                             syntax="proto3")
    F = descriptor_pb2.FieldDescriptorProto

    def add_field(m, name, number, ftype, label=F.LABEL_OPTIONAL, type_name=None, oneof=None, packed=None):
        f = m.field.add(name=name, number=number, type=ftype, label=label)
        if type_name:
            f.type_name = type_name
        if oneof is not None:
            f.oneof_index = oneof
        if packed is not None:
            f.options.packed = packed
        return f

    for name, ftype in (("BytesList", F.TYPE_BYTES), ("FloatList", F.TYPE_FLOAT), ("Int64List", F.TYPE_INT64)):
        m = fdp.message_type.add(name=name)
        add_field(m, "value", 1, ftype, F.LABEL_REPEATED, packed=None if ftype == F.TYPE_BYTES else True)
    feat = fdp.message_type.add(name="Feature")
    feat.oneof_decl.add(name="kind")
    add_field(feat, "bytes_list", 1, F.TYPE_MESSAGE, type_name=".vlad_tf.BytesList", oneof=0)
    add_field(feat, "float_list", 2, F.TYPE_MESSAGE, type_name=".vlad_tf.FloatList", oneof=0)
    add_field(feat, "int64_list", 3, F.TYPE_MESSAGE, type_name=".vlad_tf.Int64List", oneof=0)
    feats = fdp.message_type.add(name="Features")
    entry = feats.nested_type.add(name="FeatureEntry")
    entry.options.map_entry = True
    add_field(entry, "key", 1, F.TYPE_STRING)
    add_field(entry, "value", 2, F.TYPE_MESSAGE, type_name=".vlad_tf.Feature")
    add_field(feats, "feature", 1, F.TYPE_MESSAGE, F.LABEL_REPEATED, type_name=".vlad_tf.Features.FeatureEntry")
    ex = fdp.message_type.add(name="Example")
    add_field(ex, "features", 1, F.TYPE_MESSAGE, type_name=".vlad_tf.Features")
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    desc = pool.FindMessageTypeByName("vlad_tf.Example")
    factory = message_factory.MessageFactory(pool)
    return factory.GetPrototype(desc)


Example = _example_classes()


class RecordError(ValueError):
    pass


def _masked_crc(data: bytes) -> int:
    c = _crc32c.crc32c(data) if _crc32c else _crc32c_py(data)
    return (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF


_TABLE = None


def _crc32c_py(data: bytes) -> int:
    global _TABLE
    if _TABLE is None:
        _TABLE = []
        for i in range(256):
            c = i
            for _ in range(8):
                c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
            _TABLE.append(c)
    c = 0xFFFFFFFF
    for b in data:
        c = _TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def read_records(path: str, verify: bool = True) -> Iterator[bytes]:
    """Records of one TFRecord file; a bad CRC or a truncated record raises RecordError naming
    the file and offset."""
    with open(path, "rb") as f:
        buf = f.read()
    off = 0
    while off < len(buf):
        if off + 12 > len(buf):
            raise RecordError(f"{path}: truncated record header at offset {off}")
        header = buf[off:off + 8]
        (n,) = struct.unpack("<Q", header)
        (len_crc,) = struct.unpack("<I", buf[off + 8:off + 12])
        if _masked_crc(header) != len_crc:
            raise RecordError(f"{path}: length CRC mismatch at offset {off}")
        end = off + 12 + n + 4
        if end > len(buf):
            raise RecordError(f"{path}: truncated record at offset {off} (needs {n} bytes)")
        data = buf[off + 12:off + 12 + n]
        if verify:
            (data_crc,) = struct.unpack("<I", buf[end - 4:end])
            if _masked_crc(data) != data_crc:
                raise RecordError(f"{path}: data CRC mismatch in record at offset {off}")
        yield data
        off = end


def parse_example(data: bytes) -> Dict[str, object]:
    """Example bytes -> {key: list of bytes | float32 array | int64 array}."""
    ex = Example()
    ex.ParseFromString(data)
    out: Dict[str, object] = {}
    for key, feat in ex.features.feature.items():
        kind = feat.WhichOneof("kind")
        if kind == "bytes_list":
            out[key] = list(feat.bytes_list.value)
        elif kind == "float_list":
            out[key] = np.asarray(feat.float_list.value, dtype=np.float32)
        elif kind == "int64_list":
            out[key] = np.asarray(feat.int64_list.value, dtype=np.int64)
        else:
            out[key] = []
    return out


# ---------------------------------------------------------------------------------------------
# Dataset directories


def find_version_dir(path: str) -> str:
    """A TFDS data_dir, dataset dir or version dir -> the version dir holding dataset_info.json
    (the highest x.y.z when several exist)."""
    if os.path.isfile(os.path.join(path, "dataset_info.json")):
        return path
    cands = [os.path.dirname(p) for p in glob.glob(os.path.join(path, "**", "dataset_info.json"), recursive=True)
             if "/.vlad-journal" not in p]
    if not cands:
        raise FileNotFoundError(f"{path}: no dataset_info.json below it (not an RLDS/TFDS dataset)")

    def ver(d):
        try:
            return tuple(int(x) for x in os.path.basename(d).split("."))
        except ValueError:
            return (-1,)
    return max(cands, key=ver)


def shard_files(version_dir: str, split: Optional[str] = None) -> List[str]:
    """The shards dataset_info.json lists (the files a TFDS reader opens), in order."""
    with open(os.path.join(version_dir, "dataset_info.json")) as f:
        info = json.load(f)
    name = info["name"]
    files: List[str] = []
    for s in info.get("splits", []):
        if split is not None and s["name"] != split:
            continue
        n = len(s.get("shardLengths", []))
        tmpl = s.get("filepathTemplate") or "{DATASET}-{SPLIT}.{FILEFORMAT}-{SHARD_X_OF_Y}"
        w = max(5, len(str(n)))
        for i in range(n):
            fn = (tmpl.replace("{DATASET}", name).replace("{SPLIT}", s["name"]).replace("{FILEFORMAT}", "tfrecord")
                  .replace("{SHARD_X_OF_Y}", f"{i:0{w}d}-of-{n:0{w}d}").replace("{SHARD_INDEX}", f"{i:05d}"))
            p = os.path.join(version_dir, fn)
            if not os.path.isfile(p):
                raise FileNotFoundError(f"{version_dir}/dataset_info.json lists shard {fn}, which is missing")
            files.append(p)
    return files


def read_episodes(path: str, split: Optional[str] = "train", verify: bool = True) -> Iterator[Dict[str, object]]:
    vdir = find_version_dir(path)
    for shard in shard_files(vdir, split):
        for rec in read_records(shard, verify):
            yield parse_example(rec)


def decode_image(data: bytes) -> np.ndarray:
    """PNG/JPEG bytes -> uint8 HWC RGB."""
    from PIL import Image
    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im.convert("RGB"), dtype=np.uint8)


# ---------------------------------------------------------------------------------------------
# vlad episodes -> samples


@dataclass
class Episode:
    episode_id: str
    instruction: str
    tokens: np.ndarray                 # int64 [max_tokens]
    images: Dict[str, List[bytes]]     # camera -> T encoded images
    state: np.ndarray                  # float32 [T, S]
    actions: np.ndarray                # float32 [T, A]
    success: bool
    dropped_steps: int = 0  # steps the recorder could not keep: the episode has gaps
    # per step: the action was a deliberate error (control_mode 'perturbation'), there to show the
    # recovery after it; None = no step is
    perturbed: Optional[np.ndarray] = None

    @property
    def length(self) -> int:
        return self.state.shape[0]

    @property
    def first_clean(self) -> int:
        """First step after the last perturbed one: learners train from here (the recovery), so no
        chunk contains a perturbed action and no hindsight label points at the deliberate error."""
        if self.perturbed is None or not self.perturbed.any():
            return 0
        return int(np.nonzero(self.perturbed)[0][-1]) + 1


def vlad_episode(ex: Dict[str, object], cameras: Sequence[str], state_dim: int, action_dim: int,
                 max_tokens: int) -> Episode:
    def need(key):
        if key not in ex:
            raise KeyError(f"episode lacks feature {key!r} (has {sorted(ex)[:12]}...)")
        return ex[key]
    state = np.asarray(need("steps/observation/state"), np.float32)
    actions = np.asarray(need("steps/action"), np.float32)
    if state.size % state_dim or actions.size % action_dim:
        raise ValueError(f"steps/observation/state ({state.size}) or steps/action ({actions.size}) "
                         f"is not a multiple of {state_dim}/{action_dim}")
    state, actions = state.reshape(-1, state_dim), actions.reshape(-1, action_dim)
    T = state.shape[0]
    images = {c: need(f"steps/observation/{c}") for c in cameras}
    for c, imgs in images.items():
        if len(imgs) != T or actions.shape[0] != T:
            raise ValueError(f"episode step counts differ: state {T}, action {actions.shape[0]}, {c} {len(imgs)}")
    instr = need("steps/language_instruction")[0].decode("utf-8")
    eid = ex.get("episode_metadata/episode_id", [b"?"])[0].decode("utf-8")
    success = bool(np.asarray(ex.get("episode_metadata/success", [1]))[0])
    dropped = int(np.asarray(ex.get("episode_metadata/dropped_steps", [0]))[0])
    toks = np.asarray(TK.encode(instr, max_tokens), np.int64)
    modes = ex.get("steps/provenance/control_mode")
    perturbed = None
    if modes is not None:
        if len(modes) != T:
            raise ValueError(f"episode step counts differ: state {T}, provenance/control_mode {len(modes)}")
        perturbed = np.array([m == b"perturbation" for m in modes], bool)
    return Episode(eid, instr, toks, images, state, actions, success, dropped, perturbed)


def load_vlad_dataset(path, cameras=("scene", "wrist"), state_dim=7, action_dim=7, max_tokens=16,
                      only_success: bool = True, verify: bool = True, log=None) -> List[Episode]:
    """Episodes of one dataset, or of several (a list of paths, or paths joined by commas)."""
    paths = [p for p in path.split(",") if p] if isinstance(path, str) else list(path)
    eps, skipped = [], 0
    for one in paths:
        for ex in read_episodes(one, "train", verify):
            ep = vlad_episode(ex, cameras, state_dim, action_dim, max_tokens)
            if (only_success and not ep.success) or ep.dropped_steps:
                skipped += 1
                continue
            eps.append(ep)
            if log and len(eps) % 100 == 0:
                log(f"read {len(eps)} episodes")
    if log:
        recovering = sum(e.first_clean > 0 for e in eps)
        log(f"read {len(eps)} episodes ({sum(e.length for e in eps)} steps) from {len(paths)} dataset(s); "
            f"skipped {skipped} (failed{'' if only_success else ' - kept'} or with dropped steps); "
            f"{recovering} start with a deliberate perturbation (trained from the recovery on)")
    return eps


def split_episodes(eps: List[Episode], val_fraction: float, seed: int = 0):
    """Episode-level split (no step of a validation episode is trained on), stable under seed."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(eps))
    n_val = max(1, int(round(len(eps) * val_fraction))) if val_fraction > 0 and len(eps) > 1 else 0
    val = set(order[:n_val].tolist())
    return [e for i, e in enumerate(eps) if i not in val], [e for i, e in enumerate(eps) if i in val]


def norm_stats(eps: List[Episode], chunk: int) -> dict:
    """mean/std/q01/q99 per dimension of state and actions over the given (training) episodes.

    Action statistics are over every step's action (what a chunk contains, padding aside)."""
    def block(x: np.ndarray) -> dict:
        std = np.maximum(x.std(0), 1e-3)  # a constant dimension must not blow up (x - mean) / std
        return {"mean": [float(v) for v in x.mean(0)], "std": [float(v) for v in std],
                "q01": [float(v) for v in np.quantile(x, 0.01, axis=0)],
                "q99": [float(v) for v in np.quantile(x, 0.99, axis=0)]}
    return {"state": block(np.concatenate([e.state for e in eps])),
            "actions": block(np.concatenate([e.actions for e in eps]))}


def normalize(x: np.ndarray, st: dict, mode: str = "mean_std") -> np.ndarray:
    if mode == "mean_std":
        return (x - np.asarray(st["mean"], np.float32)) / (np.asarray(st["std"], np.float32) + 1e-6)
    q01, q99 = np.asarray(st["q01"], np.float32), np.asarray(st["q99"], np.float32)
    return 2.0 * (x - q01) / (q99 - q01 + 1e-6) - 1.0


def unnormalize(x: np.ndarray, st: dict, mode: str = "mean_std") -> np.ndarray:
    if mode == "mean_std":
        return x * (np.asarray(st["std"], np.float32) + 1e-6) + np.asarray(st["mean"], np.float32)
    q01, q99 = np.asarray(st["q01"], np.float32), np.asarray(st["q99"], np.float32)
    return (x + 1.0) / 2.0 * (q99 - q01 + 1e-6) + q01


def action_chunk(actions: np.ndarray, t: int, H: int):
    """actions[t:t+H], padded by repeating the last action; mask 1 = real step."""
    T = actions.shape[0]
    idx = np.minimum(np.arange(t, t + H), T - 1)
    mask = (np.arange(t, t + H) < T).astype(np.float32)
    return actions[idx], mask


def gripper_waypoints(actions: np.ndarray, closed_below: float) -> np.ndarray:
    """For every step t, the step of the next waypoint: the first step >= t where the commanded
    gripper (the last action dimension) changes between open and closed (the grasp, the release),
    else the episode's last step. [T] int.

    Hindsight subgoals from the demonstration itself, no privileged scene state: the robot's state
    at that step is where the instruction's object (or the place pad) is, in joint space."""
    closed = actions[:, -1] < closed_below
    changes = np.nonzero(closed[1:] != closed[:-1])[0] + 1
    T = actions.shape[0]
    nxt = np.full(T, T - 1, np.int64)
    for c in changes[::-1]:
        nxt[:c + 1] = c
    return nxt


class SampleSet:
    """Indexable (episode, step) samples with normalization applied; images decoded on demand."""

    def __init__(self, eps: List[Episode], stats: dict, chunk: int, mode: str = "mean_std",
                 cameras=("scene", "wrist"), cache_images: bool = False, closed_below: float = 0.03,
                 locate_size: int = 0):
        self.eps, self.stats, self.H, self.mode, self.cameras = eps, stats, chunk, mode, cameras
        # decoded uint8 observations kept after first use (2 x 27 KB per step at 96x96): for a
        # GPU host, where PNG decoding would otherwise bound the step rate
        self.cache: Optional[Dict[int, np.ndarray]] = {} if cache_images else None
        self.index = np.array([(i, t) for i, e in enumerate(eps) for t in range(e.first_clean, e.length)],
                              np.int64).reshape(-1, 2)
        self.state_n = [normalize(e.state, stats["state"], mode).astype(np.float32) for e in eps]
        self.act_n = [normalize(e.actions, stats["actions"], mode).astype(np.float32) for e in eps]
        # normalized state at each step's next gripper waypoint (the waypoint head's target)
        self.goal_n = [s[gripper_waypoints(e.actions, closed_below)] for s, e in zip(self.state_n, eps)]
        # image positions of the named object and pad (locate_labels) in `locate_size` px images
        self.locate = [locate_labels(e, cameras, locate_size, closed_below) for e in eps] if locate_size else None

    def __len__(self) -> int:
        return len(self.index)

    def get(self, k: int) -> dict:
        i, t = self.index[k]
        e = self.eps[i]
        chunk, mask = action_chunk(self.act_n[i], int(t), self.H)
        images = self.cache.get(k) if self.cache is not None else None
        if images is None:
            images = np.stack([decode_image(e.images[c][t]) for c in self.cameras])  # [C, H, W, 3]
            if self.cache is not None:
                self.cache[k] = images
        out = {"images": images, "tokens": e.tokens, "state": self.state_n[i][t], "actions": chunk,
               "mask": mask, "goal": self.goal_n[i][t], "episode": int(i)}
        if self.locate is not None:
            out["locate_uv"] = self.locate[i][0][t]
            out["locate_valid"] = self.locate[i][1][t].astype(np.float32)
        return out

    def batch(self, ks: Sequence[int]) -> dict:
        items = [self.get(int(k)) for k in ks]
        return {key: np.stack([it[key] for it in items]) for key in items[0]}


# Below this height (m) the grasp point is at an object (hovering is higher): the first descent
# there is the grasp (or the touch); its lowest point is where the named object was.
CONTACT_HEIGHT = 0.08


def locate_targets(e: "Episode", closed_below: float) -> Tuple[np.ndarray, int]:
    """Hindsight positions, from the demonstration alone, of what the instruction names: [2, 3]
    (row 0: the object, where the gripper first went down to it; row 1: the place pad, where the
    gripper released it; NaN where the episode has none) and the step of the object contact
    (labels of row 0 hold until then: afterwards the object is in the hand)."""
    out = np.full((2, 3), np.nan)
    z = rig.grasp_point(e.state[:, :6])[:, 2]
    start = e.first_clean
    low = np.nonzero(z < CONTACT_HEIGHT)[0]
    if start > 0:
        # after a deliberate error only a fresh descent from above, with the gripper opened before
        # it, locates the object (not the tail of the error's own descent, not a grasp that held)
        above = np.nonzero(z[start:] >= CONTACT_HEIGHT)[0]
        low = low[low >= start + (above[0] if len(above) else len(z))]
        if len(low) and not (e.actions[start:low[0], -1] >= closed_below).any():
            low = low[:0]
    contact = -1
    if len(low):
        run_end = low[0]
        while run_end + 1 < len(z) and z[run_end + 1] < CONTACT_HEIGHT:
            run_end += 1
        contact = int(low[0] + np.argmin(z[low[0]:run_end + 1]))
        out[0] = rig.grasp_point(e.state[contact, :6])
        out[0, 2] *= 0.5  # the object fills the space between the table and the fingers: label its middle
    elif start == 0:
        return out, -1
    if "square" in e.instruction:
        closed = e.actions[:, -1] < closed_below
        release = np.nonzero(closed[:-1] & ~closed[1:])[0]
        release = release[release >= max(contact + 1, start)]
        if len(release):
            out[1] = rig.grasp_point(e.state[int(release[0]) + 1, :6])
            out[1, 2] = 0.001  # on the table: the pad's surface
    return out, contact


def locate_labels(e: "Episode", cameras, size: int, closed_below: float) -> Tuple[np.ndarray, np.ndarray]:
    """Per step and camera, the image positions of locate_targets (continuous pixels, [T, C, 2, 2])
    and whether each label holds there ([T, C, 2]: the target exists, is in view, and for the
    object, the gripper has not reached it yet)."""
    targets, contact = locate_targets(e, closed_below)
    T = e.length
    uv = np.zeros((T, len(cameras), 2, 2), np.float32)
    valid = np.zeros((T, len(cameras), 2), bool)
    for j in range(2):
        if np.isnan(targets[j, 0]):
            continue
        pts = np.broadcast_to(targets[j], (T, 3))
        upto = np.arange(T) <= contact if j == 0 else np.ones(T, bool)
        for ci, cam in enumerate(cameras):
            p, inside = rig.project(cam, e.state[:, :6], pts, size)
            uv[:, ci, j], valid[:, ci, j] = p, inside & upto
    return uv, valid
