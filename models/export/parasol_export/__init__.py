"""Public checkpoints (Hugging Face CLIP, OpenCLIP, timm ViT style encoders, CSD) -> Parasol model packs.

Run as `python -m parasol_export <command> ...` from models/export (see README "Use a real model").
"""
