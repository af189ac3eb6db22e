/**
 * Query texts. "Cold" texts are all distinct, so every one misses the encoders' LRU cache and runs
 * the text tower; "warm" texts are a small set, embedded once before measuring, then repeated.
 */
import { Rng } from './rng.js';

export const ADJECTIVES = [
  'red', 'blue', 'green', 'yellow', 'orange', 'purple', 'pink', 'black', 'white', 'golden', 'silver', 'tiny', 'huge',
  'happy', 'sad', 'angry', 'sleepy', 'smiling', 'crying', 'laughing', 'flying', 'running', 'old', 'young', 'shiny',
  'round', 'square', 'striped', 'spotted', 'frozen', 'burning', 'wet', 'dry', 'wooden', 'glass', 'paper', 'metal',
];
export const NOUNS = [
  'cat', 'dog', 'fox', 'bear', 'panda', 'monkey', 'lion', 'tiger', 'rabbit', 'mouse', 'frog', 'fish', 'whale', 'bird',
  'owl', 'eagle', 'penguin', 'snake', 'turtle', 'butterfly', 'bee', 'flower', 'rose', 'tree', 'leaf', 'cactus', 'apple',
  'banana', 'cherry', 'grapes', 'pizza', 'burger', 'cake', 'coffee', 'tea', 'house', 'castle', 'car', 'bus', 'train',
  'rocket', 'boat', 'bicycle', 'sun', 'moon', 'star', 'cloud', 'rain', 'snowflake', 'fire', 'heart', 'hand', 'face',
  'ghost', 'robot', 'alien', 'crown', 'key', 'book', 'clock', 'phone', 'guitar', 'drum', 'ball', 'flag', 'mountain',
];
export const RELATIONS = ['with', 'on', 'under', 'next to', 'holding', 'and', 'in'];
const STYLES = [
  'flat', 'vector', 'outline', 'line art', 'monochrome', 'black and white', 'pastel', 'vivid', 'glossy', '3d', 'render',
  'cartoon', 'pixel art', 'watercolor', 'ink wash', 'sketch', 'hand drawn', 'thick outlines', 'soft shading', 'gradient',
  'minimal', 'detailed', 'retro', 'skeuomorphic', 'sticker', 'bold', 'thin strokes', 'high contrast', 'muted colours',
];

function contentPhrase(rng: Rng): string {
  switch (rng.int(4)) {
    case 0:
      return `${rng.pick(NOUNS)}`;
    case 1:
      return `a ${rng.pick(ADJECTIVES)} ${rng.pick(NOUNS)}`;
    case 2:
      return `${rng.pick(ADJECTIVES)} ${rng.pick(NOUNS)} ${rng.pick(RELATIONS)} a ${rng.pick(NOUNS)}`;
    default:
      return `${rng.pick(ADJECTIVES)} ${rng.pick(ADJECTIVES)} ${rng.pick(NOUNS)}`;
  }
}

function stylePhrase(rng: Rng): string {
  const n = 1 + rng.int(3);
  const words = new Set<string>();
  while (words.size < n) words.add(rng.pick(STYLES));
  return [...words].join(' ');
}

/** Query texts for one run; each kind from its own seeded stream so the lists never overlap by accident. */
export class QueryTexts {
  private readonly contentRng: Rng;
  private readonly styleRng: Rng;
  private readonly usedContent = new Set<string>();
  private readonly usedStyle = new Set<string>();

  constructor(seed = 7) {
    this.contentRng = new Rng(seed);
    this.styleRng = new Rng(seed + 1);
  }

  /** `count` content texts never handed out before by this instance. */
  content(count: number): string[] {
    return this.fresh(count, () => contentPhrase(this.contentRng), this.usedContent, 'q');
  }

  style(count: number): string[] {
    return this.fresh(count, () => stylePhrase(this.styleRng), this.usedStyle, 's');
  }

  private fresh(count: number, make: () => string, used: Set<string>, tag: string): string[] {
    const out: string[] = [];
    while (out.length < count) {
      let text = make();
      for (let tries = 0; used.has(text) && tries < 20; tries++) text = make();
      // The phrase space is large but finite: past it, a number keeps texts distinct (and tokenised).
      if (used.has(text)) text = `${text} ${tag}${used.size}`;
      used.add(text);
      out.push(text);
    }
    return out;
  }
}
