#!/usr/bin/python3
"""Tests of the training-data side: RLDS reader (real TFDS fixtures), FAST tokens round trip,
sample construction. Run: /usr/bin/python3 models/toolchain/test_data.py  (a few seconds)."""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
import unittest

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fast_tokens as FT  # noqa: E402
import rig  # noqa: E402
import rlds_data as R  # noqa: E402

FIXTURES = "/work/shared/fixtures/rlds"


def smooth_chunks(n: int, H: int = 50, A: int = 7, seed: int = 0) -> np.ndarray:
    """Normalized-scale chunks shaped like arm motions: a few low-frequency sinusoids + offset."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 1, H)[None, :, None]
    amp, freq, phase = rng.normal(0, 0.8, (n, 1, A)), rng.uniform(0.1, 1.5, (n, 1, A)), rng.uniform(0, 6, (n, 1, A))
    return (rng.normal(0, 1, (n, 1, A)) + amp * np.sin(2 * np.pi * freq * t + phase)).astype(np.float32)


class RldsReader(unittest.TestCase):
    def test_bridge_fixture(self):
        eps = list(R.read_episodes(os.path.join(FIXTURES, "tfds_bridge_dummy"), None))
        self.assertEqual(len(eps), 1)
        ex = eps[0]
        self.assertEqual(len(ex["steps/observation/image"]), 3)
        self.assertEqual(ex["steps/observation/state"].shape, (21,))
        self.assertEqual(ex["steps/is_first"].tolist(), [1, 0, 0])
        img = R.decode_image(ex["steps/observation/image"][0])
        self.assertEqual(img.shape, (480, 640, 3))

    def test_kpertsch_fixture_splits_and_shards(self):
        d = os.path.join(FIXTURES, "synthetic_golden_kpertsch_schema")
        train = list(R.read_episodes(d, "train"))
        val = list(R.read_episodes(d, "val"))
        self.assertEqual((len(train), len(val)), (3, 1))  # train = 2 shards (2 + 1 episodes)
        ex = train[0]
        T = len(ex["steps/observation/image"])
        self.assertEqual(ex["steps/action"].shape, (T * 10,))
        self.assertEqual(R.decode_image(ex["steps/observation/wrist_image"][0]).shape, (64, 64, 3))
        self.assertTrue(ex["steps/language_instruction"][0].decode())

    def test_mt_opt_jpeg_fixture(self):
        eps = list(R.read_episodes(os.path.join(FIXTURES, "tfds_mt_opt_rlds_dummy"), "train"))
        self.assertEqual([len(e["steps/observation/image"]) for e in eps], [13, 20])
        self.assertEqual(R.decode_image(eps[0]["steps/observation/image"][0]).shape, (512, 640, 3))

    def test_corruption_is_detected(self):
        src = os.path.join(FIXTURES, "tfds_bridge_dummy", "bridge", "1.0.0")
        with tempfile.TemporaryDirectory() as tmp:
            dst = os.path.join(tmp, "bridge", "1.0.0")
            shutil.copytree(src, dst)
            shard = R.shard_files(dst, "train")[0]
            with open(shard, "rb") as f:
                data = bytearray(f.read())
            data[5000] ^= 0x40
            with open(shard, "wb") as f:
                f.write(bytes(data))
            with self.assertRaisesRegex(R.RecordError, "data CRC mismatch"):
                list(R.read_episodes(dst, "train"))
            with open(shard, "wb") as f:
                f.write(bytes(data[:-100]))
            with self.assertRaisesRegex(R.RecordError, "truncated"):
                list(R.read_episodes(dst, "train", verify=False))

    def test_example_roundtrip_through_protobuf(self):
        ex = R.Example()
        ex.features.feature["steps/action"].float_list.value.extend([1.5, -2.0])
        ex.features.feature["steps/is_first"].int64_list.value.extend([1, 0])
        ex.features.feature["steps/language_instruction"].bytes_list.value.append(b"touch the red ball")
        out = R.parse_example(ex.SerializeToString())
        self.assertEqual(out["steps/action"].tolist(), [1.5, -2.0])
        self.assertEqual(out["steps/is_first"].tolist(), [1, 0])
        self.assertEqual(out["steps/language_instruction"], [b"touch the red ball"])


class Samples(unittest.TestCase):
    def test_chunk_padding_and_split(self):
        acts = np.arange(12 * 7, dtype=np.float32).reshape(12, 7)
        chunk, mask = R.action_chunk(acts, 9, 5)
        self.assertEqual(chunk[:, 0].tolist(), [63, 70, 77, 77, 77])  # last action repeated
        self.assertEqual(mask.tolist(), [1, 1, 1, 0, 0])
        eps = [R.Episode(str(i), "touch the red ball", np.zeros(16, np.int64), {}, np.zeros((3, 7), np.float32),
                         np.zeros((3, 7), np.float32), True) for i in range(20)]
        train, val = R.split_episodes(eps, 0.1, seed=3)
        self.assertEqual((len(train), len(val)), (18, 2))
        self.assertFalse({e.episode_id for e in train} & {e.episode_id for e in val})
        self.assertEqual([e.episode_id for e in R.split_episodes(eps, 0.1, seed=3)[1]], [e.episode_id for e in val])

    def test_gripper_waypoints(self):
        acts = np.zeros((10, 7), np.float32)
        acts[:, 6] = 0.08
        acts[3:7, 6] = 0.0  # closes at step 3 (grasp), opens at 7 (release)
        self.assertEqual(R.gripper_waypoints(acts, 0.03).tolist(), [3, 3, 3, 3, 7, 7, 7, 7, 9, 9])
        acts[:, 6] = 0.08  # never closes: the end is the only waypoint
        self.assertEqual(R.gripper_waypoints(acts, 0.03).tolist(), [9] * 10)
        # a sample's goal is the normalized state at its waypoint
        state = np.arange(10 * 7, dtype=np.float32).reshape(10, 7)
        acts[5:, 6] = 0.0
        ep = R.Episode("e", "x", np.zeros(16, np.int64), {}, state, acts, True)
        st = R.norm_stats([ep], 4)
        ss = R.SampleSet([ep], st, 4, closed_below=0.03)
        np.testing.assert_allclose(ss.goal_n[0][2], R.normalize(state[5], st["state"]), rtol=1e-6)
        np.testing.assert_allclose(ss.goal_n[0][6], R.normalize(state[9], st["state"]), rtol=1e-6)

    def test_normalization_inverse(self):
        rng = np.random.default_rng(0)
        x = rng.normal(2.0, 0.3, (500, 7)).astype(np.float32)
        x[:, 3] = 0.0  # a constant joint: std floored, no blow-up
        ep = R.Episode("e", "x", np.zeros(16, np.int64), {}, x, x, True)
        st = R.norm_stats([ep], 50)
        for mode in ("mean_std", "quantile"):
            n = R.normalize(x, st["state"], mode)
            self.assertTrue(np.isfinite(n).all())
            np.testing.assert_allclose(R.unnormalize(n, st["state"], mode), x, atol=1e-5)
        self.assertAlmostEqual(float(R.normalize(x, st["state"])[:, 0].std()), 1.0, places=3)


class FastTokens(unittest.TestCase):
    def test_dct_is_orthonormal(self):
        m = FT.dct_matrix(50)
        np.testing.assert_allclose(m @ m.T, np.eye(50), atol=1e-12)

    def test_roundtrip_smooth_chunks(self):
        tok = FT.FastTokenizer()
        chunks = smooth_chunks(200)
        ids = tok.encode(chunks)
        self.assertEqual(ids.shape, (200, tok.n_tokens))
        self.assertTrue(((ids >= 0) & (ids < tok.vocab_size)).all())
        rec = tok.decode(ids)
        err = np.abs(rec - chunks)
        # rounding (step 1/scale in coefficient space) + truncated high frequencies
        self.assertLess(float(np.sqrt((err ** 2).mean())), 0.06)
        self.assertLess(float(err.max()), 0.35)
        # tokens are a fixed point of decode -> encode
        np.testing.assert_array_equal(tok.encode(rec), ids)

    def test_low_frequencies_first_and_exact_with_all_freqs(self):
        tok = FT.FastTokenizer(n_freq=50, scale=1000.0, max_abs=100000)
        chunks = smooth_chunks(5, seed=1)
        np.testing.assert_allclose(tok.decode(tok.encode(chunks)), chunks, atol=1e-3)
        const = np.tile(np.arange(7, dtype=np.float32) * 0.1, (50, 1))
        ids = FastTokenizerDefaults.encode(const) - FastTokenizerDefaults.max_abs
        self.assertTrue((ids[7:] == 0).all())  # a constant chunk has only the DC (first A) tokens
        self.assertEqual(ids[:7].tolist(), [round(0.1 * a * np.sqrt(50) * 4) for a in range(7)])

    def test_bad_input(self):
        tok = FT.FastTokenizer()
        with self.assertRaises(ValueError):
            tok.encode(np.zeros((49, 7)))
        with self.assertRaises(ValueError):
            tok.decode(np.full(tok.n_tokens, tok.vocab_size))


# Named colours of src/sim/scene.ts (RGB in 0..1)
SIM_COLOURS = {"red": (0.85, 0.12, 0.1), "blue": (0.12, 0.25, 0.85), "green": (0.1, 0.65, 0.2),
               "yellow": (0.95, 0.85, 0.1), "orange": (0.95, 0.5, 0.05), "purple": (0.55, 0.2, 0.7),
               "white": (0.95, 0.95, 0.95)}
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class RigAndLocateLabels(unittest.TestCase):
    def test_grasp_point_matches_the_simulators_kinematics(self):
        # forwardGraspPoint (src/sim/kinematics.ts) for the same joint angles
        cases = [([0, 0.35, 1.55, 0, 1.24, 0], [0.3938084430419472, 0, 0.24361255024480555]),
                 ([0.4, 0.8, 1.2, 0.3, 0.9, -0.5], [0.47992397664266484, 0.23306802963330125, 0.14540465196117625]),
                 ([-0.7, 0.2, 1.9, -0.2, 1.4, 1.0], [0.20026993904641102, -0.1994017538492061, 0.21182743357545225])]
        for q, want in cases:
            np.testing.assert_allclose(rig.grasp_point(np.array(q)), want, atol=1e-9)
        uv, inside = rig.project("scene", np.zeros(6), np.array([0.98 - 0.785, 0.0, 0.6 - 0.62]), 96)
        np.testing.assert_allclose(uv, [48.0, 48.0], atol=1e-6)  # on the optical axis: the centre
        self.assertTrue(inside)
        _, inside = rig.project("scene", np.zeros(6), np.array([2.0, 0.0, 1.0]), 96)
        self.assertFalse(inside)  # behind the camera

    @unittest.skipUnless(shutil.which("node") and os.path.exists(os.path.join(REPO, "dist/src/cli/main.js")),
                         "needs node and a built dist/ (npm run build)")
    def test_labels_land_on_the_named_object_and_pad(self):
        import subprocess
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run(["node", os.path.join(REPO, "dist/src/cli/main.js"), "collect", "--task", "pick,place,touch",
                            "--episodes", "1", "--seed", "5", "--out", tmp], check=True, capture_output=True)
            eps = R.load_vlad_dataset(tmp)
        self.assertEqual(len(eps), 3)
        checked = 0
        for e in eps:
            uv, valid = R.locate_labels(e, ("scene", "wrist"), 96, 0.03)
            words = e.instruction.split()
            named = [w for w in words if w in SIM_COLOURS]
            _, contact = R.locate_targets(e, 0.03)
            self.assertGreater(contact, 0)
            self.assertTrue(valid[0, 0, 0] and not valid[contact + 1:, :, 0].any())
            for j, colour in enumerate(named):
                for ci, cam in enumerate(("scene", "wrist")):
                    if not valid[0, ci, j]:
                        continue
                    img = R.decode_image(e.images[cam][0]).astype(np.float64) / 255.0
                    x, y = (int(v) for v in uv[0, ci, j])
                    pix = img[y, x]
                    # the label's pixel has the named colour's chroma (shading scales brightness)
                    chroma = lambda c: np.asarray(c) / max(np.linalg.norm(c), 1e-6)
                    nearest = min(SIM_COLOURS, key=lambda k: np.linalg.norm(chroma(pix) - chroma(SIM_COLOURS[k])))
                    self.assertEqual(nearest, colour, f"{e.instruction}: {cam} label {j} at {(x, y)} is {pix}")
                    checked += 1
        self.assertGreaterEqual(checked, 5)  # 3 objects in the scene view, the pad, most in the wrist view

    @unittest.skipUnless(shutil.which("node") and os.path.exists(os.path.join(REPO, "dist/src/cli/main.js")),
                         "needs node and a built dist/ (npm run build)")
    def test_recovery_episodes_train_from_the_recovery_on(self):
        import subprocess
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run(["node", os.path.join(REPO, "dist/src/cli/main.js"), "collect", "--task", "pick,place",
                            "--episodes", "1", "--seed", "77", "--miss-rate", "1", "--out", tmp],
                           check=True, capture_output=True)
            eps = R.load_vlad_dataset(tmp)
            both = R.load_vlad_dataset(f"{tmp},{tmp}")  # several datasets: comma-separated paths
            short = os.path.join(tmp, "short")
            subprocess.run(["node", os.path.join(REPO, "dist/src/cli/main.js"), "collect", "--task", "place",
                            "--episodes", "2", "--seed", "78", "--release-miss-rate", "1", "--out", short],
                           check=True, capture_output=True)
            released_short = R.load_vlad_dataset(short)
        self.assertEqual(len(eps), 2)
        self.assertEqual(len(both), 4)
        self.assertEqual(len(released_short), 2)
        # episode 1 let go off the pad, then picked the cube up again: the object label is where it
        # was let go (the gripper hides it in the images then), the pad label well away from it
        e = released_short[1]
        self.assertGreater(e.first_clean, 0)
        targets, contact = R.locate_targets(e, 0.03)
        dropped_at = rig.grasp_point(e.state[e.first_clean - 1, :6])
        self.assertGreater(contact, e.first_clean)
        self.assertLess(np.linalg.norm(targets[0, :2] - dropped_at[:2]), 0.02)
        self.assertGreater(np.abs(targets[0, :2] - targets[1, :2]).max(), 0.05)  # off the pad (half-size 5 cm)
        checked = []
        for e in eps:
            self.assertIsNotNone(e.perturbed)
            p = np.nonzero(e.perturbed)[0]
            # one block from the first approach to the failed lift, then the operator's own moves
            self.assertGreater(len(p), 50, e.instruction)
            self.assertEqual(p[-1] - p[0] + 1, len(p))
            self.assertEqual(e.first_clean, p[-1] + 1)
            self.assertLess(e.first_clean, e.length - 50)
            samples = R.SampleSet([e], R.norm_stats([e], 50), 50)
            self.assertEqual(int(samples.index[:, 1].min()), e.first_clean)
            self.assertEqual(len(samples), e.length - e.first_clean)
            # labels from the recovery only: the object where the retry went down (none if the
            # deliberate grasp held anyway), the pad where the cube was let go
            uv, valid = R.locate_labels(e, ("scene",), 96, 0.03)
            named = [w for w in e.instruction.split() if w in SIM_COLOURS]
            t = e.first_clean
            chroma = lambda c: np.asarray(c) / max(np.linalg.norm(c), 1e-6)
            img = R.decode_image(e.images["scene"][t]).astype(np.float64) / 255.0
            for j, colour in enumerate(named):
                if not valid[t, 0, j]:
                    continue
                x, y = (int(v) for v in uv[t, 0, j])
                nearest = min(SIM_COLOURS, key=lambda k: np.linalg.norm(chroma(img[y, x]) - chroma(SIM_COLOURS[k])))
                self.assertEqual(nearest, colour, f"{e.instruction}: label {j}")
                checked.append((e.instruction, j))
        self.assertIn(0, [j for _, j in checked])  # the pick retried: its object label was checked
        self.assertIn(1, [j for _, j in checked])  # the place's pad

FastTokenizerDefaults = FT.FastTokenizer()

if __name__ == "__main__":
    unittest.main(verbosity=2)
