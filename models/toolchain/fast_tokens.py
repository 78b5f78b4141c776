"""FAST-style action tokens (Pertsch et al. 2025, "FAST: Efficient Action Tokenization"), simplified.

  chunk [H, A] (normalized actions)
    -> orthonormal DCT-II over time, per action dimension      coeffs [H, A]
    -> keep the lowest n_freq frequencies                        [n_freq, A]
    -> scale by `scale`, round to integers, clip to +-max_abs
    -> flatten low frequencies first (index k * A + a)           [n_freq * A]
    -> token = integer + max_abs (offset binning)                vocab 2 * max_abs + 1

No BPE: the token count is fixed (n_freq * A), which lets the prefix's token head predict all
tokens in parallel (train.py). Truncating high frequencies is the lossy part besides rounding;
demonstration chunks at 50 Hz are smooth, so 10-12 of 50 frequencies keep nearly all energy
(test_fast_tokens.py measures the reconstruction error on real chunks). The inverse pads the
dropped frequencies with zeros and applies the inverse DCT.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def dct_matrix(n: int) -> np.ndarray:
    """Orthonormal DCT-II matrix [n, n]: coeffs = M @ x, x = M.T @ coeffs."""
    k = np.arange(n)[:, None]
    i = np.arange(n)[None, :]
    m = np.cos(np.pi * (2 * i + 1) * k / (2 * n)) * np.sqrt(2.0 / n)
    m[0] /= np.sqrt(2.0)
    return m


@dataclass(frozen=True)
class FastTokenizer:
    horizon: int = 50
    action_dim: int = 7
    n_freq: int = 12
    scale: float = 4.0
    max_abs: int = 127

    @property
    def vocab_size(self) -> int:
        return 2 * self.max_abs + 1

    @property
    def n_tokens(self) -> int:
        return self.n_freq * self.action_dim

    def _m(self) -> np.ndarray:
        return dct_matrix(self.horizon)

    def encode(self, chunk: np.ndarray) -> np.ndarray:
        """[..., H, A] float -> [..., n_freq * A] int64 tokens in [0, vocab)."""
        chunk = np.asarray(chunk, np.float64)
        if chunk.shape[-2:] != (self.horizon, self.action_dim):
            raise ValueError(f"chunk shape {chunk.shape}, wanted [..., {self.horizon}, {self.action_dim}]")
        coeffs = np.einsum("kh,...ha->...ka", self._m()[: self.n_freq], chunk)
        q = np.clip(np.rint(coeffs * self.scale), -self.max_abs, self.max_abs).astype(np.int64)
        return q.reshape(*q.shape[:-2], self.n_tokens) + self.max_abs

    def soft_targets(self, chunk: np.ndarray, sigma: float) -> np.ndarray:
        """HL-Gauss targets (Farebrother et al. 2024, "Stop regressing"): per token, the mass that a
        Gaussian of std `sigma` bins around the *unrounded* scaled coefficient puts on each bin.
        Cross-entropy against these is ordinal: a prediction one bin off is nearly right, which
        the one-hot targets of `encode` cannot say. [..., H, A] -> [..., n_tokens, vocab] float32."""
        import torch  # erf over [..., n_tokens, vocab + 1] edges, vectorized
        chunk = np.asarray(chunk, np.float64)
        coeffs = np.einsum("kh,...ha->...ka", self._m()[: self.n_freq], chunk) * self.scale
        y = np.clip(coeffs.reshape(*coeffs.shape[:-2], self.n_tokens), -self.max_abs, self.max_abs)[..., None]
        edges = np.arange(-self.max_abs, self.max_abs + 2, dtype=np.float64) - 0.5  # vocab + 1 bin edges
        cdf = 0.5 * (1.0 + torch.erf(torch.from_numpy((edges - y) / (sigma * np.sqrt(2.0)))).numpy())
        p = np.diff(cdf, axis=-1)
        return (p / p.sum(-1, keepdims=True)).astype(np.float32)

    def decode(self, tokens: np.ndarray) -> np.ndarray:
        """[..., n_freq * A] tokens -> [..., H, A] float32 chunk."""
        tokens = np.asarray(tokens, np.int64)
        if tokens.shape[-1] != self.n_tokens:
            raise ValueError(f"{tokens.shape[-1]} tokens, wanted {self.n_tokens}")
        if tokens.min(initial=0) < 0 or tokens.max(initial=0) >= self.vocab_size:
            raise ValueError(f"token ids outside [0, {self.vocab_size})")
        q = (tokens - self.max_abs).reshape(*tokens.shape[:-1], self.n_freq, self.action_dim)
        coeffs = q.astype(np.float64) / self.scale
        chunk = np.einsum("kh,...ka->...ha", self._m()[: self.n_freq], coeffs)
        return chunk.astype(np.float32)
