"""The sequence tasks of Duan et al. (ICLR 2023), as their code generates them
(``docs/reference/duan-plasticrnns.md`` section 3, yuvenduan/PlasticRNNs ``datasets/``).

- ``cue_reward``: five cues per sequence, each a random 14-d stimulus with a reward in (-1, 1);
  20 steps, a random cue at each (plus N(0, 0.1^2) noise). The first half shows the cue's
  reward beside it, the second half a "now answer" flag instead; the target is the cue's reward
  at every step and the loss covers all 20, as theirs does. The score covers the second half
  only (theirs averages all 20 steps, half of which show the answer in the input): what it
  tests is binding a stimulus to a reward from a few pairings and recalling it by the stimulus.
  Their trials have 20 steps; ``cue_reward@10`` .. ``@80`` are trials of another length (half
  pairings, half recall, as theirs), one network per length, to see how each rule's memory
  fares as the associations get shorter or longer.
- ``reproduction_delay`` / ``reproduction_length``: a sequence of 1-d values in (-1, 1) (tokens
  ``[v, 1, 0]``), ``delay`` blank tokens, then ``length`` recall tokens ``[0, 0, 1]`` at which
  the model answers the sequence in order. No token says which position it is: the order must
  be kept by the model. Their experiments: length 5 with delays 0-60, and delay 0 with lengths
  5-40; the loss and the score cover the recall phase only.
- ``regression_duan_linear`` / ``regression_duan_mlp``: a random function per sequence, a linear
  map of 12 variables or a 2-unit tanh MLP of 6 (PyTorch's default initialisation, as theirs);
  values z-scored per sequence. ``pairs`` train tokens ``[x, f(x) + N(0, 0.1^2), 1]``, then 20
  test tokens ``[x, 0, 0]``; the target is f(x) at every step, the loss covers all of them (as
  theirs does), the score the 20 test steps.

Where Duan et al. train one network per level (each delay, each length), the study does so too
by naming one level: ``reproduction_delay@40`` (``hebbformer.tasks.build_task``).
"""

from __future__ import annotations

import math

import torch

from .base import Batch, Task


class CueReward(Task):
    name = "cue_reward"
    objective = "regress"
    level_name = "steps"
    named_levels = (10, 20, 40, 80)  # trial lengths besides Duan et al.'s 20 (cue_reward@40)

    def __init__(self, cues: int = 5, stimulus_dim: int = 14, steps: tuple[int, ...] = (20,), noise: float = 0.1):
        if any(s < 2 or s % 2 for s in steps):
            raise ValueError(f"cue_reward: trial lengths must be even and at least 2, got {steps}")
        self.cues, self.stimulus_dim, self.levels, self.noise = cues, stimulus_dim, tuple(steps), noise
        self.d_in = stimulus_dim + 2  # stimulus, reward shown (first half), "answer now" (second half)
        self.d_out = 1

    def sample(self, batch, level, g, split="train"):
        stimuli = torch.rand(batch, self.cues, self.stimulus_dim, generator=g)
        rewards = torch.rand(batch, self.cues, generator=g) * 2 - 1
        cue = torch.randint(self.cues, (batch, level), generator=g)
        x = torch.zeros(batch, level, self.d_in)
        x[..., : self.stimulus_dim] = stimuli.gather(1, cue[..., None].expand(-1, -1, self.stimulus_dim))
        x[..., : self.stimulus_dim] += self.noise * torch.randn(batch, level, self.stimulus_dim, generator=g)
        target = rewards.gather(1, cue)
        half = level // 2
        x[:, :half, -2] = target[:, :half]
        x[:, half:, -1] = 1
        every = torch.ones(batch, level, dtype=torch.bool)
        recall = torch.zeros_like(every)
        recall[:, half:] = True
        return Batch(x, target, every, recall)


class Reproduction(Task):
    objective = "regress"

    def __init__(self, vary: str = "delay", levels: tuple[int, ...] | None = None, length: int = 5, delay: int = 0):
        if vary not in ("delay", "length"):
            raise ValueError(f"reproduction varies 'delay' or 'length', not {vary!r}")
        self.vary, self.name, self.level_name = vary, f"reproduction_{vary}", vary
        default = (0, 10, 20, 40, 60) if vary == "delay" else (5, 10, 20, 30, 40)
        self.levels = tuple(default if levels is None else levels)
        self.length, self.delay = length, delay  # the one held fixed
        self.d_in, self.d_out = 3, 1

    def sample(self, batch, level, g, split="train"):
        n, delay = (self.length, level) if self.vary == "delay" else (level, self.delay)
        values = torch.rand(batch, n, generator=g) * 2 - 1
        x = torch.zeros(batch, 2 * n + delay, 3)
        x[:, :n, 0], x[:, :n, 1] = values, 1
        x[:, n + delay:, 2] = 1
        target = torch.zeros(batch, 2 * n + delay)
        target[:, n + delay:] = values
        recall = torch.zeros(batch, 2 * n + delay, dtype=torch.bool)
        recall[:, n + delay:] = True
        return Batch(x, target, recall, recall)


class DuanRegression(Task):
    objective = "regress"
    level_name = "pairs"

    def __init__(self, family: str = "linear", pairs: tuple[int, ...] = (10, 20), test_steps: int = 20,
                 noise: float = 0.1):
        if family not in ("linear", "mlp"):
            raise ValueError(f"unknown regression family {family!r}; known: linear, mlp")
        self.family, self.name = family, f"regression_duan_{family}"
        self.levels, self.test_steps, self.noise = tuple(pairs), test_steps, noise
        self.variables = 12 if family == "linear" else 6  # their input_shape (14,) and (8,), less 2
        self.d_in, self.d_out = self.variables + 2, 1

    def _function(self, batch, x, g):
        """f(x) for one random function per sequence, initialised as nn.Linear is: U(-1/sqrt(fan_in), ..)."""
        def linear(inp, n_in, n_out):
            bound = 1 / math.sqrt(n_in)
            w = (torch.rand(batch, n_in, n_out, generator=g) * 2 - 1) * bound
            b = (torch.rand(batch, 1, n_out, generator=g) * 2 - 1) * bound
            return inp @ w + b
        if self.family == "linear":
            return linear(x, self.variables, 1)[..., 0]
        return linear(torch.tanh(linear(x, self.variables, 2)), 2, 1)[..., 0]

    def sample(self, batch, level, g, split="train"):
        t = level + self.test_steps
        x = torch.rand(batch, t, self.variables, generator=g) * 2 - 1
        y = self._function(batch, x, g)
        y = (y - y.mean(1, keepdim=True)) / y.std(1, keepdim=True).clamp_min(1e-6)  # z-scored per sequence
        tokens = torch.zeros(batch, t, self.d_in)
        tokens[..., : self.variables] = x
        tokens[:, :level, -2] = y[:, :level] + self.noise * torch.randn(batch, level, generator=g)
        tokens[:, :level, -1] = 1
        every = torch.ones(batch, t, dtype=torch.bool)
        test = torch.zeros(batch, t, dtype=torch.bool)
        test[:, level:] = True
        return Batch(tokens, y, every, test)
