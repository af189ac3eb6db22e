// Reads JSON [strings] on stdin, prints JSON [ids] using @huggingface/tokenizers with the pack's tokenizer.json
// (encode without special tokens, truncate to 16, right-pad with [PAD]).
import { readFileSync } from "node:fs";
import { Tokenizer } from "@huggingface/tokenizers";
const tokJson = JSON.parse(readFileSync(process.argv[2], "utf8"));
const tok = new Tokenizer(tokJson, {});
const pad = tokJson.model.vocab["[PAD]"];
const texts = JSON.parse(readFileSync(0, "utf8"));
const out = texts.map((t) => {
  const ids = tok.encode(t, { add_special_tokens: false }).ids.slice(0, 16).map(Number);
  while (ids.length < 16) ids.push(pad);
  return ids;
});
console.log(JSON.stringify(out));
