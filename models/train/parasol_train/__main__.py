"""python -m parasol_train <stage ...|all> [--config FILE] [--set section.key=value ...] [--resume]"""
import argparse
import sys

from .config import ConfigError, load_config
from .pipeline import STAGES, run_stages


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m parasol_train",
        description="Train and export the mini model pack. Stages: " + ", ".join(STAGES) + "; `all` runs them in order.")
    parser.add_argument("stages", nargs="+", metavar="stage", choices=["all", *STAGES])
    parser.add_argument("--config", help="TOML file (configs/mini.toml is the bundled pack, configs/smoke.toml a "
                                         "few steps of every stage on a small sample)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="override one setting, e.g. --set generator.unet.steps=100 (repeatable)")
    parser.add_argument("--resume", action="store_true",
                        help="continue every training stage from its latest checkpoint; finished stages are skipped "
                             "(without it, training starts from step 0 and replaces the checkpoints)")
    parser.add_argument("--pack-only", action="store_true",
                        help="export_generator: only rewrite pack.json's `parasol` block")
    args = parser.parse_args(argv)
    try:
        cfg = load_config(args.config, args.overrides)
    except (ConfigError, OSError) as e:
        print(f"parasol_train: {e}", file=sys.stderr)
        return 2
    names = list(STAGES) if "all" in args.stages else args.stages
    run_stages(cfg, names, args.resume, args.pack_only)
    return 0


if __name__ == "__main__":
    sys.exit(main())
