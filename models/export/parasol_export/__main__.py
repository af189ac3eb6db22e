"""python -m parasol_export {hf-clip,open-clip,style,statistics} ...: one line on error, exit status 2."""
import argparse
import sys

from .errors import ExportError
from .onnx_export import PRECISIONS


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="parasol pack import", description="Turn a checkpoint on disk into a Parasol model pack.")
    sub = root.add_subparsers(dest="command", required=True)
    hf = sub.add_parser("hf-clip", help="a Hugging Face CLIP folder -> a new pack")
    hf.add_argument("folder")
    oc = sub.add_parser("open-clip", help="an OpenCLIP checkpoint -> a new pack")
    oc.add_argument("--model", required=True, help="OpenCLIP model name (e.g. ViT-B-32) or a model config .json")
    oc.add_argument("--checkpoint", required=True)
    for command in (hf, oc):
        command.add_argument("--out", required=True, help="the pack folder to create (must not exist)")
        command.add_argument("--name", help="the pack's name (default: the folder's name)")
    st = sub.add_parser("style", help="a style image encoder -> style_image.onnx in an existing pack")
    st.add_argument("--kind", choices=("vit", "csd"), default="vit")
    st.add_argument("--arch", help="timm ViT name, e.g. vit_base_patch16_224 (for --kind vit)")
    st.add_argument("--checkpoint", required=True)
    st.add_argument("--head", help="projection head weights (a Linear's state dict)")
    st.add_argument("--heads", type=int, help="attention heads, for a ViT of non-standard width")
    st.add_argument("--into", required=True, help="the pack to add the style tower to")
    stats = sub.add_parser("statistics", help="the weights-free style descriptor from a pack's conv semantic image tower")
    stats.add_argument("--into", required=True, help="the pack to add style_stats.onnx to")
    stats.add_argument("--replace-style", action="store_true", help="replace a trained style tower")
    for command in (hf, oc, st):
        command.add_argument("--precision", choices=PRECISIONS, default="fp32")
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        if args.command == "hf-clip":
            from .hf_clip import import_hf_clip

            import_hf_clip(args.folder, args.out, args.precision, args.name)
        elif args.command == "open-clip":
            from .openclip_convert import import_open_clip

            import_open_clip(args.model, args.checkpoint, args.out, args.precision, args.name)
        elif args.command == "statistics":
            from .statistics_graph import import_statistics

            import_statistics(args.into, args.replace_style)
        else:
            from .style import import_style

            import_style(args.kind, args.arch, args.checkpoint, args.head, args.into, args.precision, args.heads)
    except ExportError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
