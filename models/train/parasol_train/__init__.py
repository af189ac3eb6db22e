"""Training and ONNX export of the bundled `mini` model pack (models/mini).

Run from models/train: `python -m parasol_train <stage|all> --config configs/mini.toml [--resume] [--set k=v ...]`.
Layout: config (one dataclass tree), data/text (corpus, tokenizer), models (encoders, generator), losses,
schedule/sampler (the DDPM maths the TypeScript sampler mirrors), trainer (the one loop every training stage
runs), export (ONNX + onnxruntime-node checks), stages/ (one module per pipeline stage), pipeline (stage order).
"""
