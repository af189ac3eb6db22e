"""The DDPM noise schedule and sampling plan (numpy only). The engine's src/parasol/schedule.ts is the reference;
test/parasol/python-schedule.test.ts runs `python -m parasol_train.schedule` and compares the two.

`python -m parasol_train.schedule '<schedule json>' T steps` prints {"alphasCumprod": [...], "plan": [...]}."""
import json
import math
import sys

import numpy as np

T = 1000
SCHEDULE = {"kind": "linear", "betaStart": 0.00085, "betaEnd": 0.012}


def spec_of(schedule) -> dict:
    """The pack.json `schedule` block of a config's `generator.schedule` section."""
    return {"kind": schedule.kind, "betaStart": schedule.beta_start, "betaEnd": schedule.beta_end}


def betas(timesteps=T, spec=SCHEDULE):
    if spec["kind"] == "linear":
        return np.linspace(spec["betaStart"], spec["betaEnd"], timesteps, dtype=np.float64)
    if spec["kind"] == "scaled-linear":
        return np.linspace(spec["betaStart"] ** 0.5, spec["betaEnd"] ** 0.5, timesteps, dtype=np.float64) ** 2
    raise ValueError(f"unknown schedule kind {spec['kind']!r}")


def alphas_cumprod(timesteps=T, spec=SCHEDULE):
    return np.cumprod(1.0 - betas(timesteps, spec))


def sampling_timesteps(steps, timesteps=T):
    """Trailing spacing, most noisy first; rounds halves up as JavaScript's Math.round does."""
    stride = timesteps / steps
    return [int(math.floor(timesteps - i * stride + 0.5)) - 1 for i in range(steps)]


def sampling_plan(steps, timesteps=T, spec=SCHEDULE):
    ac = alphas_cumprod(timesteps, spec)
    ts = sampling_timesteps(steps, timesteps)
    plan = []
    for i, t in enumerate(ts):
        tp = ts[i + 1] if i + 1 < len(ts) else -1
        ab = float(ac[t])
        abp = float(ac[tp]) if tp >= 0 else 1.0
        alpha = ab / abp
        beta = 1 - alpha
        var = (1 - abp) / (1 - ab) * beta
        plan.append(dict(t=t, tp=tp, x0_x=1 / math.sqrt(ab), x0_e=math.sqrt(1 - ab) / math.sqrt(ab),
                         mu_x0=math.sqrt(abp) * beta / (1 - ab), mu_x=math.sqrt(alpha) * (1 - abp) / (1 - ab),
                         sigma=math.sqrt(max(var, 0.0)) if tp >= 0 else 0.0, ab=ab))
    return plan


if __name__ == "__main__":
    spec, timesteps, steps = json.loads(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    print(json.dumps({"alphasCumprod": alphas_cumprod(timesteps, spec).tolist(),
                      "plan": sampling_plan(steps, timesteps, spec)}))
