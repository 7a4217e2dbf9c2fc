"""Local learning rules as explicit objects, so that every back-end executes the same rules.

A rule writes ``dW[post, pre] = lr * third * post ⊗ pre``: the product of what the synapse sees
on its two sides (two-factor) and, optionally, a third, modulating signal that gates the write
(three-factor). Writing a transformer's KV cache is two such rules (see ``synaptic.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch


@dataclass(frozen=True)
class Precision:
    """How a rule's writes are stored. ``synapse_bits`` None: floating point. Otherwise signed
    synapses of that many bits, each update landing in an accumulator with ``fraction_bits``
    fractional bits and rounded to the synapse grid (``rounding``)."""
    synapse_bits: int | None = None
    fraction_bits: int = 0
    rounding: str = "none"

    @property
    def largest(self) -> int | None:
        """The largest magnitude a synapse stores (its mantissa, symmetric), None in float."""
        return None if self.synapse_bits is None else (1 << (self.synapse_bits - 1)) - 1

    def store(self, x):
        """What a synapse keeps of a written value x (numpy or torch): rounded half up onto its
        grid of ``fraction_bits`` and saturated at ``largest``; x itself in floating point."""
        if self.synapse_bits is None:
            return x
        xp = np if isinstance(x, np.ndarray) else torch
        scale = 1 << self.fraction_bits
        if self.rounding == "nearest" and not (xp is np and np.issubdtype(x.dtype, np.integer) and scale == 1):
            x = xp.floor(x * scale + 0.5) / scale
        return xp.clip(x, -self.largest, self.largest)


FLOAT = Precision()
# Loihi 2's learning engine as the compiled network drives it (hebbformer.neuro.attention_compiler):
# each sign of a key or value arrives in a 7-bit trace and is copied into the synapse exactly,
# so a write stores a signed mantissa -127..127, with no fractional bits and no rounding.
LOIHI = Precision(synapse_bits=8, fraction_bits=0, rounding="nearest")


@dataclass(frozen=True)
class HebbianRule:
    name: str
    pre: str  # the presynaptic signal
    post: str  # the postsynaptic signal
    third: str | None = None  # the modulating signal; None: a two-factor rule
    lr: float = 1.0
    precision: Precision = FLOAT

    @property
    def factors(self) -> int:
        return 2 if self.third is None else 3

    def delta(self, pre, post, third=None):
        """dW [..., n_post, n_pre] for activities pre [..., n_pre] and post [..., n_post] (numpy or
        torch); a three-factor rule multiplies each postsynaptic row by its modulator ``third``
        [..., n_post]. Stored at ``precision`` by the memory that applies it (``store``)."""
        if (third is None) != (self.third is None):
            raise ValueError(f"rule {self.name!r} is {self.factors}-factor")
        gate = post if third is None else post * third
        outer = gate[..., :, None] * pre[..., None, :]
        return outer if self.lr == 1 else self.lr * outer  # integer activities stay integers


# Softmax attention in synaptic form. Each token recruits a new slot neuron (one-hot activity).
# Its key is written into that neuron's input synapses: pre = the key, post = the slot's
# recruitment (two-factor). Its value is written into the neuron's output synapses: pre = the
# slot's recruitment, post = the output neurons, gated by the value as the third factor.
KEY_WRITE = HebbianRule("key_write", pre="key", post="slot recruitment")
VALUE_WRITE = HebbianRule("value_write", pre="slot recruitment", post="output neurons", third="value")

# Linear attention in synaptic form: one fixed-size matrix, whatever the context length. Each
# token writes the outer product of its value (post) and its key's feature map (pre); a single
# normaliser neuron with constant activity learns the running sum of the key features.
OUTER_PRODUCT_WRITE = HebbianRule("outer_product_write", pre="key features", post="value")
NORMALISER_WRITE = HebbianRule("normaliser_write", pre="key features", post="normaliser neuron")

# The Quant variant's writes: the same rules, stored as Loihi 2's learning engine stores them
# (hebbformer.quant executes them; hebbformer.neuro.loihi emulates the engine itself).
QUANT_KEY_WRITE = replace(KEY_WRITE, precision=LOIHI)
QUANT_VALUE_WRITE = replace(VALUE_WRITE, precision=LOIHI)
