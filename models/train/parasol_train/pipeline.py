"""The stages in pipeline order and the runner that times them (paths.work/timing.json, quoted in the card)."""
import importlib
import json
import os
import time

from .config import Config
from .runtime import log

# name -> module under parasol_train.stages; `all` runs them in this order. The generator stages train on the
# frozen encoders and their export adds the `parasol` block to the pack.json the encoder export wrote.
STAGES = {
    "prepare": "prepare",
    "tokenizer_check": "tokenizer_check",
    "semantic": "semantic",
    "style": "style",
    "style_colour": "style_colour",
    "style_text": "style_text",
    "export": "export_encoders",
    "vae": "vae",
    "decoder": "decoder",
    "triplets": "triplets",
    "unet": "unet",
    "export_generator": "export_generator",
    "metrics": "metrics",
    "card": "card",
}


def record_time(cfg: Config, name: str, seconds: float) -> None:
    path = os.path.join(cfg.path("work"), "timing.json")
    timing = json.load(open(path)) if os.path.exists(path) else {}
    timing[name] = timing.get(name, 0) + seconds
    json.dump(timing, open(path, "w"), indent=1)


def run_stages(cfg: Config, names: list[str], resume: bool, pack_only: bool = False) -> None:
    os.makedirs(cfg.path("work"), exist_ok=True)
    with open(os.path.join(cfg.path("work"), "config.json"), "w") as f:
        f.write(cfg.to_json())
    if not resume:
        timing = os.path.join(cfg.path("work"), "timing.json")
        if os.path.exists(timing) and names == list(STAGES):
            os.remove(timing)
    t_all = time.time()
    for name in names:
        module = importlib.import_module(f".stages.{STAGES[name]}", __package__)
        log(f"== {name}")
        t0 = time.time()
        if name == "export_generator":
            module.run(cfg, resume, pack_only=pack_only)
        else:
            module.run(cfg, resume)
        record_time(cfg, name, time.time() - t0)
    log(f"== done: {', '.join(names)} in {(time.time() - t_all) / 60:.1f} min; pack in {cfg.path('pack')}")
