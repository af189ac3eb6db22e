import { describe, expect, it } from 'vitest';
import { contributionOf, hitsFor, topHits, wordPostings, WordPostingsCache, type WordHit, type WordPostings } from '../../src/store/word-postings.js';
import { seededRandom } from './helpers.js';

/** Random postings over seqs 1..n with few distinct scores, so that ties are everywhere. */
function randomLists(random: () => number, words: number, n: number): WordPostings[] {
  return Array.from({ length: words }, () => {
    const seqs: number[] = [];
    const scores: number[] = [];
    for (let seq = 1; seq <= n; seq++) {
      if (random() < 0.4) {
        seqs.push(seq);
        scores.push([0.5, 1.25, 2, 3.1][Math.floor(random() * 4)]);
      }
    }
    // Any order in: the postings sort themselves.
    const order = seqs.map((_, i) => i).sort(() => random() - 0.5);
    return wordPostings(order.map((i) => seqs[i]), order.map((i) => scores[i]));
  });
}

/** The definition: every seq's sum in word order, best first, ties by seq. */
function bruteForce(lists: WordPostings[], n: number, accept: (seq: number) => boolean = () => true): WordHit[] {
  const all: WordHit[] = [];
  for (let seq = 1; seq <= n; seq++) {
    let score = 0;
    let matched = 0;
    lists.forEach((list, word) => {
      const c = contributionOf(list, seq);
      if (c !== 0) {
        score += c;
        matched += 2 ** word;
      }
    });
    if (matched && accept(seq)) all.push({ seq, score, matched });
  }
  return all.sort((a, b) => b.score - a.score || a.seq - b.seq);
}

describe('word postings', () => {
  it('ranks a query exactly as scoring every match would, ties by seq, for one word and many', () => {
    const random = seededRandom(5);
    for (const words of [1, 2, 3, 5]) {
      const lists = randomLists(random, words, 300);
      for (const limit of [1, 10, 37, 1000]) {
        expect(topHits(lists, limit)).toEqual(bruteForce(lists, 300).slice(0, limit));
      }
      const even = (seq: number) => seq % 2 === 0;
      expect(topHits(lists, 25, even)).toEqual(bruteForce(lists, 300, even).slice(0, 25));
      expect(topHits(lists, 0)).toEqual([]);
    }
  });

  it('prunes with the words\' best contributions yet ranks exactly: rare strong words beside dense weak ones, with and without ties', async () => {
    const random = seededRandom(9);
    const n = 3000;
    // [density, score levels]: levels 0 = continuous scores (no ties).
    const shapes: Array<Array<[number, number[] | null]>> = [
      [[0.02, null], [0.6, null]],
      [[0.6, [0.2, 0.3]], [0.5, [0.25]], [0.01, [4, 5]]],
      [[0.3, null], [0.3, null], [0.05, null], [0.9, [0.1]], [0, null]],
      [[0.5, [1]], [0.5, [1]]],
    ];
    for (const shape of shapes) {
      const lists = shape.map(([density, levels]) => {
        const seqs: number[] = [];
        const scores: number[] = [];
        for (let seq = 1; seq <= n; seq++) {
          if (random() >= density) continue;
          seqs.push(seq);
          scores.push(levels ? levels[Math.floor(random() * levels.length)] : 0.05 + random() * 3);
        }
        return wordPostings(seqs, scores);
      });
      for (const limit of [1, 5, 24, 400, 5000]) {
        expect(topHits(lists, limit)).toEqual(bruteForce(lists, n).slice(0, limit));
      }
      const sparse = (seq: number) => seq % 7 === 3;
      expect(topHits(lists, 24, sparse)).toEqual(bruteForce(lists, n, sparse).slice(0, 24));
    }
  });

  it('scores given seqs with the same sums, leaving out seqs that match no word', () => {
    const random = seededRandom(6);
    const lists = randomLists(random, 3, 200);
    const expected = new Map(bruteForce(lists, 200).map((hit) => [hit.seq, hit]));
    const asked = [5, 17, 17, 199, 200, 1000, -3];
    const got = hitsFor(lists, [...new Set(asked)]);
    expect(got).toEqual([...new Set(asked)].flatMap((seq) => (expected.has(seq) ? [expected.get(seq)] : [])));
    expect(hitsFor([], [1, 2])).toEqual([]);
  });

  it('keeps postings for one state of the table, least recently used words leaving first', () => {
    const cache = new WordPostingsCache(5);
    let loads = 0;
    const load = (n: number) => () => {
      loads++;
      return wordPostings(Array.from({ length: n }, (_, i) => i + 1), Array.from({ length: n }, () => 1));
    };
    cache.get('v1', 'a', load(2));
    cache.get('v1', 'b', load(2));
    cache.get('v1', 'a', load(2)); // a is now the most recent
    expect(loads).toBe(2);
    cache.get('v1', 'c', load(2)); // over budget: b goes
    expect(cache.size).toBe(4);
    cache.get('v1', 'a', load(2));
    expect(loads).toBe(3);
    cache.get('v1', 'b', load(2));
    expect(loads).toBe(4);
    cache.get('v2', 'a', load(2)); // a new state of the table: everything is read again
    expect(loads).toBe(5);
    expect(cache.size).toBe(2);
    cache.get('v2', 'huge', load(9)); // larger than the budget: held alone
    expect(cache.size).toBe(9);
    cache.get('v2', 'huge', load(9));
    expect(loads).toBe(6);
  });
});
