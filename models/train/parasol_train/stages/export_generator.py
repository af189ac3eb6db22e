"""Stage export_generator (generator 4/4): ONNX export into the pack, the `parasol` block of pack.json, reference outputs,
onnxruntime-node checks and timing, held-out samples (contact sheet) and evaluation numbers.

Writes (paths.pack):
  unet.onnx, vae_encoder.onnx, vae_decoder.onnx, projector.onnx   opset 17, dynamic batch (EMA weights)
  pack.json                 read-modify-write: only the `parasol` block is set; the encoder blocks are kept
  reference_generator.json  torch outputs for fixed inputs (see its "note"); onnxruntime must agree to 1e-4
  generator_samples.png     held-out (content y, style s) pairs: y | s | PARASOL (lambda = steps/2) |
                            + colour transfer | from noise (c_y, m_s) | lambda = steps (reconstruction)
and paths.gen/generator_report.json (the numbers CARD_GENERATOR.md quotes).
generator.samples sets the sampler (steps, g_s, g_y) of the samples and the evaluation.
`--pack-only` only rewrites the `parasol` block (e.g. after the encoder export rewrote pack.json).
"""
import json
import os
import time

import numpy as np
import torch
import torch.nn.functional as F

from ..checkpoints import ckpt_path, decoder_tag, load_frozen_encoders, load_vae
from ..config import Config, style_dim
from ..data import IMAGE, load_png, split_images, to_pm1, to_uint8
from ..export import export_onnx, onnxruntime_outputs, run_node
from ..models.generator import epsilon_model, latent_shape, make_generator
from ..runtime import load_checkpoint, log, n_params, setup
from ..sampler import colour_transfer, invert_and_sample, sample_from_noise
from ..schedule import T, alphas_cumprod, spec_of
from .unet import trained_as
from .vae import generator_items

FILES = {"unet": "unet.onnx", "encoder": "vae_encoder.onnx", "decoder": "vae_decoder.onnx", "projector": "projector.onnx"}


def parasol_block(scale, latent, schedule):
    return {
        "unet": {"file": FILES["unet"],
                 "inputs": {"latent": "latent", "timestep": "timestep", "content": "content", "style": "style",
                            "contentMask": "content_mask", "styleMask": "style_mask"},
                 "output": "noise"},
        "vae": {"encoder": {"file": FILES["encoder"], "input": "pixels", "output": "latent"},
                "decoder": {"file": FILES["decoder"], "input": "latent", "output": "pixels"},
                "imageSize": IMAGE, "scale": float(f"{scale:.6g}")},
        "projector": {"file": FILES["projector"], "input": "style", "output": "embedding"},
        "latent": list(latent),
        "timesteps": T,
        "prediction": "epsilon",
        "schedule": dict(schedule),
    }


def write_block(pack_path, scale, latent, schedule):
    """read-modify-write of the `parasol` block only (re-read right before writing; atomic rename)."""
    pack = json.load(open(pack_path))
    pack["parasol"] = parasol_block(scale, latent, schedule)
    tmp = pack_path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(pack, f, indent=2)
        f.write("\n")
    os.replace(tmp, pack_path)
    log(f"pack.json: parasol block written (scale {scale:.6g}); blocks now {list(pack)}")


def f32list(a):
    """exact float32 values as JSON numbers (parse as double, cast to float32: the same bits)."""
    return [float(v) for v in np.asarray(a, np.float32).reshape(-1)]


def rounded(a):
    return [float(f"{v:.8g}") for v in np.asarray(a, np.float64).reshape(-1)]


def pick_pairs(items, n, seed):
    """n held-out (content y, style s) pairs: y from `unseen-content` items of a training set, s from a held-out
    set (`unseen-style`) or an `unseen-content` item of another training set."""
    rng = np.random.RandomState(seed)
    content = [i for i, it in enumerate(items) if it["split"] == "unseen-content" and it["codepoint"]]
    style = [i for i, it in enumerate(items) if it["split"] in ("unseen-style", "unseen-content")]
    pairs = []
    while len(pairs) < n:
        y = content[rng.randint(len(content))]
        s = style[rng.randint(len(style))]
        if items[s]["set"] != items[y]["set"] and items[s]["codepoint"] != items[y]["codepoint"]:
            pairs.append((y, s))
    return pairs


def sheet_pairs(items):
    """Six fixed, readable held-out pairs (by set), the first matching items in a seeded order."""
    want = [("noto", "twemoji"), ("fluent-emoji", "fluent-emoji-high-contrast"), ("openmoji", "fxemoji"),
            ("emojione", "emojione-monotone"), ("fluent-emoji-flat", "openmoji"), ("noto-v1", "fluent-emoji")]
    rng = np.random.RandomState(3)
    order = rng.permutation(len(items))
    pairs = []
    for cs, ss in want:
        y = next((i for i in order if items[i]["set"] == cs and items[i]["split"] == "unseen-content" and items[i]["codepoint"]), None)
        s = next((i for i in order if items[i]["set"] == ss and items[i]["split"] != "train" and items[i]["codepoint"]
                  and (y is None or items[i]["codepoint"] != items[y]["codepoint"])), None)
        if y is not None and s is not None:
            pairs.append((y, s))
    return pairs


@torch.no_grad()
def generate(unet, proj, dec, enc, scale, C, A, Yx, Sx, steps, g_s, g_y, seed, spec):
    """PARASOL on [-1,1] image batches (y, s): returns dict of [-1,1] images."""
    y, s = to_pm1(Yx), to_pm1(Sx)
    c_y, a_y, a_s = C(y), A(y), A(s)
    m_y, m_s = proj(a_y), proj(a_s)
    z0 = enc(y) * scale
    lam = steps // 2
    out = {}
    out["parasol"] = dec(invert_and_sample(unet, z0, c_y, m_y, m_s, lam, steps, g_s, g_y, seed, spec) / scale)
    out["colour"] = colour_transfer((out["parasol"] + 1) / 2, (s + 1) / 2) * 2 - 1
    out["noise"] = dec(sample_from_noise(unet, c_y, m_s, steps, g_s, g_y, seed, spec) / scale)
    out["recon"] = dec(invert_and_sample(unet, z0, c_y, m_y, m_s, steps, steps, g_s, g_y, seed, spec) / scale)
    out["vae"] = dec(z0 / scale)
    return out


def contact_sheet(rows, path, steps, cell=64, up=2):
    from PIL import Image, ImageDraw
    heads = ["y (content)", "s (style)", f"lambda={steps // 2}", "+colour", "noise", f"lambda={steps}"]
    keys = ["y", "s", "parasol", "colour", "noise", "recon"]
    c = cell * up
    pad, top = 4, 16
    W = len(keys) * (c + pad) + pad
    H = top + len(rows) * (c + pad) + pad
    im = Image.new("RGB", (W, H), (255, 255, 255))
    d = ImageDraw.Draw(im)
    for j, h in enumerate(heads):
        d.text((pad + j * (c + pad) + 2, 2), h, fill=(0, 0, 0))
    for i, r in enumerate(rows):
        for j, k in enumerate(keys):
            tile = Image.fromarray(r[k]).resize((c, c), Image.NEAREST)
            im.paste(tile, (pad + j * (c + pad), top + pad + i * (c + pad)))
    im.save(path, optimize=True)
    if os.path.getsize(path) > 300_000 and up > 1:
        return contact_sheet(rows, path, steps, cell, 1)
    return os.path.getsize(path)


def run(cfg: Config, resume: bool, pack_only: bool = False) -> None:
    setup(cfg.runtime.threads, cfg.generator.seed)
    OUT, CORPUS, GEN, SEED = cfg.path("pack"), cfg.path("corpus"), cfg.path("gen"), cfg.generator.seed
    smp = cfg.generator.samples
    STEPS, G_S, G_Y = smp.steps, smp.g_s, smp.g_y
    pack_path = os.path.join(OUT, "pack.json")
    if not os.path.exists(pack_path):
        raise SystemExit(f"{pack_path} is missing: export the encoder pack first (models/train/run.sh)")
    pack = json.load(open(pack_path))
    if "semantic" not in pack or "style" not in pack:
        raise SystemExit(f"{pack_path} has no semantic/style blocks: export the encoder pack first")
    sem_dim, sty_dim = pack["semantic"]["dim"], pack["style"]["dim"]
    enc, dec, scale, vck = load_vae(cfg)
    LATENT = latent_shape(cfg.generator.vae.latent_channels)
    uck = load_checkpoint(ckpt_path(cfg, "unet"))
    prediction, schedule = trained_as(uck.get("extra", {}))
    if (prediction, schedule) != (cfg.generator.unet.prediction, spec_of(cfg.generator.schedule)):
        raise SystemExit(f"the UNet checkpoint was trained with prediction/schedule {(prediction, schedule)}, the "
                         f"config says {(cfg.generator.unet.prediction, spec_of(cfg.generator.schedule))}")
    if pack_only:  # only (re)write the `parasol` block, e.g. after the encoder export rewrote pack.json
        write_block(pack_path, scale, LATENT, schedule)
        return
    if not uck.get("done"):
        log("WARNING: the UNet has not finished training; exporting its latest checkpoint (EMA weights)")
    if sty_dim != style_dim(cfg):
        raise SystemExit(f"{pack_path} declares a {sty_dim}-d style but the config's style descriptor is {style_dim(cfg)}-d: "
                         f"export the encoders of this config first")
    g = make_generator(cfg.generator, sty_dim)
    g.load_state_dict(uck["ema"])
    g.eval()
    # what the engine calls: epsilon out, whatever the network predicts
    unet, proj = epsilon_model(g.unet, prediction, alphas_cumprod(spec=schedule)).eval(), g.proj
    for p in g.parameters():
        p.requires_grad_(False)
    C, A, enc_tag = load_frozen_encoders(cfg)
    report = {"encoders": enc_tag, "unet_step": uck["step"], "unet_done": bool(uck.get("done")), "scale": scale,
              "prediction": prediction, "schedule": schedule}

    # --- ONNX export
    os.makedirs(OUT, exist_ok=True)
    B = 2
    args = (torch.randn(B, *LATENT), torch.tensor([10.0, 900.0]), F.normalize(torch.randn(B, sem_dim), dim=1),
            F.normalize(torch.randn(B, sem_dim), dim=1), torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0]))
    export_onnx(unet, args, ["latent", "timestep", "content", "style", "content_mask", "style_mask"], "noise",
           os.path.join(OUT, FILES["unet"]))
    export_onnx(enc, (torch.zeros(B, 3, IMAGE, IMAGE),), ["pixels"], "latent", os.path.join(OUT, FILES["encoder"]))
    export_onnx(dec, (torch.zeros(B, *LATENT),), ["latent"], "pixels", os.path.join(OUT, FILES["decoder"]))
    export_onnx(proj, (F.normalize(torch.randn(B, sty_dim), dim=1),), ["style"], "embedding",
           os.path.join(OUT, FILES["projector"]))

    write_block(pack_path, scale, LATENT, schedule)

    # --- reference outputs
    items = generator_items(cfg)
    by_id = {it["id"]: it for it in items}
    refdir = os.path.join(OUT, "reference")
    ref_imgs = []
    for key in ("noto:1f600", "openmoji:1f436", "fluent-emoji:2764"):
        it = by_id.get(key)
        if it is None:
            continue
        fname = f"reference/{it['set']}_{it['codepoint']}.png"
        src = os.path.join(OUT, fname) if os.path.exists(os.path.join(OUT, fname)) else os.path.join(CORPUS, it["path"])
        ref_imgs.append((it, fname if os.path.exists(os.path.join(OUT, fname)) else it["path"], load_png(src)))
    if len(ref_imgs) < 2:
        tr = [it for it in items if it["split"] == "train"][:2]
        ref_imgs = [(it, it["path"], load_png(os.path.join(CORPUS, it["path"]))) for it in tr]
    ref_imgs = ref_imgs[:2]
    U8 = np.stack([r[2] for r in ref_imgs])  # [2,64,64,3]
    px = to_pm1(U8)
    gen = torch.Generator().manual_seed(SEED + 99)
    with torch.no_grad():
        c_ref = C(px)
        a_ref = A(px)
        m_ref = proj(a_ref)
        lat_in = torch.randn((4, *LATENT), generator=gen)
        ts = torch.tensor([999.0, 500.0, 100.0, 0.0])
        content = torch.cat([c_ref, c_ref])
        style = torch.cat([m_ref.flip(0), m_ref.flip(0)])
        cmask = torch.tensor([0.0, 0.0, 1.0, 1.0])
        smask = torch.tensor([0.0, 1.0, 0.0, 1.0])
        noise = unet(lat_in, ts, content, style, cmask, smask)
        latents = enc(px) * scale
        decoded = dec(latents / scale)
    reference = {
        "note": ("torch reference outputs of the generator in this pack (EMA weights, float32). unet: inputs given "
                 "explicitly (float32 values), rows = mask combinations (content, style) = (0,0), (0,1), (1,0), "
                 "(1,1); content = semantic vectors of the two images below, style = projector outputs. "
                 "projector: style vectors of the two images -> embedding. vae: pixels are uint8 NCHW (value/127.5 "
                 "- 1 -> [-1,1]) of the two images; latent = encoder(pixels) * scale (what loadGenerator().encode "
                 "returns); decoded = decoder(latent / scale), every 16th value and the sum."),
        "tolerance": 1e-4,
        "scale": scale,
        "unet": {"latent": f32list(lat_in), "timestep": f32list(ts), "content": f32list(content),
                 "style": f32list(style), "contentMask": f32list(cmask), "styleMask": f32list(smask),
                 "dims": [4, *LATENT], "noise": rounded(noise)},
        "projector": {"style": f32list(a_ref), "dims": [2, sty_dim], "embedding": rounded(m_ref)},
        "vae": {"images": [{"id": it["id"], "file": f} for it, f, _ in ref_imgs],
                "pixelsU8": [int(v) for v in U8.transpose(0, 3, 1, 2).reshape(-1)],
                "latent": rounded(latents),
                "decoded": {"stride": 16, "values": rounded(decoded.reshape(-1)[::16]),
                            "sum": float(decoded.double().sum())}},
    }
    json.dump(reference, open(os.path.join(OUT, "reference_generator.json"), "w"), separators=(",", ":"))
    log(f"reference_generator.json written ({os.path.getsize(os.path.join(OUT, 'reference_generator.json')) / 1e3:.0f} kB)")

    # --- onnxruntime-node: agreement and timing
    fl = lambda t: {"dims": list(t.shape), "data": t.reshape(-1).tolist()}
    cases = [(FILES["unet"], {"latent": fl(lat_in), "timestep": fl(ts), "content": fl(content), "style": fl(style),
                              "content_mask": fl(cmask), "style_mask": fl(smask)}, "noise", noise),
             (FILES["projector"], {"style": fl(a_ref)}, "embedding", m_ref),
             (FILES["encoder"], {"pixels": fl(px)}, "latent", latents / scale),
             (FILES["decoder"], {"latent": fl(latents / scale)}, "pixels", decoded)]
    try:
        res = onnxruntime_outputs(OUT, os.path.join(GEN, "ort_inputs.json"),
                                  [{"file": f, "inputs": i, "output": o} for f, i, o, _ in cases])
        worst = 0.0
        for (f, _, _, want), r in zip(cases, res):
            d = float(np.abs(np.array(r["data"], np.float32).reshape(r["dims"]) - want.numpy()).max())
            worst = max(worst, d)
            log(f"onnxruntime-node vs torch {f}: max |diff| {d:.2e}")
        report["ort_max_diff"] = worst
        if worst >= 1e-4:
            raise RuntimeError(f"onnxruntime-node and torch disagree by {worst:.2e} (tolerance 1e-4)")
        timing = json.loads(run_node("verify_generator.mjs", [os.path.abspath(OUT)]))
        report["ort_unet_batch3_ms"] = timing
        log(f"onnxruntime-node UNet batch-3 call: {json.dumps(timing)}")
    except (RuntimeError, FileNotFoundError) as e:
        log(f"WARNING: onnxruntime-node check failed: {e}")
        report["ort_error"] = str(e)[:500]

    # --- torch timing of a UNet batch-3 call (for comparison)
    with torch.no_grad():
        a3 = tuple(a[:3] if a.dim() else a for a in (lat_in, ts, content, style, cmask, smask))
        for _ in range(5):
            unet(*a3)
        t0 = time.time()
        for _ in range(30):
            unet(*a3)
        report["torch_unet_batch3_ms"] = (time.time() - t0) / 30 * 1000

    # --- held-out samples and evaluation
    h_items, HX = split_images(GEN, CORPUS, items, train=False)
    pairs = sheet_pairs(h_items)
    Yx = HX[[p[0] for p in pairs]]
    Sx = HX[[p[1] for p in pairs]]
    t0 = time.time()
    out = generate(unet, proj, dec, enc, scale, C, A, Yx, Sx, STEPS, G_S, G_Y, SEED, schedule)
    rows = []
    for k in range(len(pairs)):
        r = {"y": Yx[k], "s": Sx[k]}
        for key in ("parasol", "colour", "noise", "recon"):
            r[key] = to_uint8(out[key][k:k + 1])[0]
        rows.append(r)
    size = contact_sheet(rows, os.path.join(OUT, "generator_samples.png"), STEPS)
    report["samples"] = {"pairs": [{"y": h_items[a]["id"], "s": h_items[b]["id"]} for a, b in pairs],
                         "steps": STEPS, "lambda": STEPS // 2, "g_s": G_S, "g_y": G_Y, "png_bytes": size,
                         "seconds": time.time() - t0}
    log(f"generator_samples.png: {len(pairs)} pairs, {size / 1e3:.0f} kB")

    # VAE reconstruction PSNR on every held-out image, by split (cached per autoencoder: it is frozen)
    psnr_cache = os.path.join(GEN, "vae_psnr_heldout.json")
    vtag = decoder_tag(vck)
    cached = json.load(open(psnr_cache)) if os.path.exists(psnr_cache) else {}
    if cached.get("vae") == vtag and cached.get("n") == len(HX):
        report["vae_psnr_heldout"] = {k: v for k, v in cached.items() if k != "vae"}
    else:
        with torch.no_grad():
            ps = np.zeros(len(HX))
            for i in range(0, len(HX), 256):
                x = to_pm1(HX[i:i + 256])
                mse = (((dec(enc(x)).clamp(-1, 1) - x) * 0.5) ** 2).flatten(1).mean(1).clamp(min=1e-10)
                ps[i:i + 256] = (10 * torch.log10(1 / mse)).numpy()
        splits = np.array([it["split"] for it in h_items])
        report["vae_psnr_heldout"] = {"all": float(ps.mean()), "n": int(len(ps)),
                                      **{sp: float(ps[splits == sp].mean()) for sp in sorted(set(splits))}}
        json.dump({"vae": vtag, **report["vae_psnr_heldout"]}, open(psnr_cache, "w"), indent=1)
    log(f"VAE PSNR on all {report['vae_psnr_heldout']['n']} held-out images: {json.dumps(report['vae_psnr_heldout'])}")

    n_eval = smp.eval_pairs
    ev = pick_pairs(h_items, n_eval, SEED)
    Yx = HX[[p[0] for p in ev]]
    Sx = HX[[p[1] for p in ev]]
    out = {}
    for i in range(0, len(ev), 16):
        o = generate(unet, proj, dec, enc, scale, C, A, Yx[i:i + 16], Sx[i:i + 16], STEPS, G_S, G_Y, SEED + i, schedule)
        for k, v in o.items():
            out.setdefault(k, []).append(v)
    out = {k: torch.cat(v) for k, v in out.items()}
    with torch.no_grad():
        y, s = to_pm1(Yx), to_pm1(Sx)
        a_s, c_y = A(s), C(y)
        sd = lambda x: float(((A(x) - a_s) ** 2).mean())
        cd = lambda x: float(((C(x) - c_y) ** 2).mean())
        evals = {"pairs": len(ev), "style_mse_to_s": {"y (no change)": sd(y)}, "content_mse_to_y": {"s (the style image)": cd(s)}}
        for k in ("vae", "recon", "parasol", "colour", "noise"):
            evals["style_mse_to_s"][k] = sd(out[k])
            evals["content_mse_to_y"][k] = cd(out[k])
        evals["recon_psnr_db"] = float((10 * torch.log10(1 / (((out["recon"] - out["vae"]) * 0.5) ** 2).flatten(1).mean(1).clamp(min=1e-10))).mean())
    report["eval"] = evals
    log(f"held-out eval ({len(ev)} pairs): {json.dumps(evals)}")
    report["vae"] = {k: vck.get(k) for k in ("step", "t_spent", "psnr_train", "psnr_heldout", "l1_heldout", "final_l1",
                                               "final_kl", "latent_std", "config")}
    report["unet"] = {k: uck.get(k) for k in ("step", "t_spent", "final", "hist", "config")}
    report["params"] = {"unet": n_params(unet), "projector": n_params(proj), "vae_encoder": n_params(enc),
                        "vae_decoder": n_params(dec)}
    report["files_mb"] = {f: os.path.getsize(os.path.join(OUT, f)) / 1e6 for f in list(FILES.values()) +
                          ["reference_generator.json", "generator_samples.png"]}
    tj = os.path.join(GEN, "triplets.json")
    if os.path.exists(tj):
        report["triplets"] = {k: v for k, v in json.load(open(tj)).items() if k != "examples"}
    json.dump(report, open(os.path.join(GEN, "generator_report.json"), "w"), indent=1)
    log(f"generator pack files {json.dumps(report['files_mb'])}; total {sum(report['files_mb'].values()):.2f} MB")
