/**
 * Open Clip Art, the artwork demo corpus: Debian's `openclipart-svg` package (about 8,100 public
 * domain SVG drawings by many artists), fetched with the system's package tool and read from
 * the extracted package:
 *
 *   <dataDir>/corpora/openclipart/usr/share/openclipart/svg/<category>[/<sub>]/<name>.svg
 *   <dataDir>/corpora/openclipart/usr/share/doc/openclipart-svg/copyright
 *
 * `apt-get download` + `dpkg-deb -x` need no root: the package is unpacked into the data dir,
 * never installed. Each drawing's title, keywords and creator come from its RDF metadata
 * (Dublin Core inside a Creative Commons `cc:Work`), its category from its folder, and the
 * licence from the package's copyright file.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { createError } from '../src/errors.js';

export const OPENCLIPART_PACKAGE = 'openclipart-svg';
export const OPENCLIPART_SOURCE = 'openclipart';
export const OPENCLIPART_KIND = 'openclipart';

const SVG_ROOT = path.join('usr', 'share', 'openclipart', 'svg');
const COPYRIGHT = path.join('usr', 'share', 'doc', OPENCLIPART_PACKAGE, 'copyright');
/** Subjects that say nothing about a drawing. */
const EMPTY_SUBJECTS = new Set(['', 'unsorted']);

export interface ArtworkItem {
  /** A stable item id from the drawing's path: `openclipart:<category>/<name>` with safe characters. */
  id: string;
  /** The SVG's path relative to the package's svg folder. */
  path: string;
  title: string;
  keywords: string[];
  creator?: string;
  /** The folder under the svg root, e.g. `science/medicine`. */
  category: string;
}

export interface ArtworkCorpus {
  /** The folder the package was unpacked into. */
  dir: string;
  svgDir: string;
  license: string;
  items: ArtworkItem[];
}

/** Where `parasol corpus fetch openclipart` unpacks the package. */
export function openClipArtDir(dataDir: string): string {
  return path.join(dataDir, 'corpora', OPENCLIPART_SOURCE);
}

export interface FetchOptions {
  /** The package tools, by name or path (tests point them elsewhere). */
  aptGet?: string;
  dpkgDeb?: string;
}

const run = promisify(execFile);

/** One line from a failed command: its own error output, else the spawn error. */
function failure(error: unknown): string {
  const stderr = String((error as { stderr?: unknown }).stderr ?? '').trim();
  const lines = stderr.split('\n').filter((line) => line.trim() && !/^W: /.test(line));
  return (lines.at(-1) ?? (error as Error).message).trim().slice(0, 300);
}

/**
 * Downloads the package (apt-get download, into a temp folder inside the data dir) and unpacks it
 * (dpkg-deb -x) into openClipArtDir(dataDir), replacing what was there. Throws a one-line
 * UNPROCESSABLE naming the package where either tool is missing or fails.
 */
export async function fetchOpenClipArt(dataDir: string, options: FetchOptions = {}): Promise<ArtworkCorpus> {
  const target = openClipArtDir(dataDir);
  await mkdir(path.dirname(target), { recursive: true });
  const work = await mkdtemp(path.join(path.dirname(target), `.${OPENCLIPART_SOURCE}-`));
  const cannot = (step: string, error: unknown) =>
    createError('UNPROCESSABLE', `cannot fetch the Debian package ${OPENCLIPART_PACKAGE} (${step}: ${failure(error)}); install it with apt-get install ${OPENCLIPART_PACKAGE} where apt works`);
  try {
    const aptGet = options.aptGet ?? 'apt-get';
    await run(aptGet, ['download', OPENCLIPART_PACKAGE], { cwd: work, maxBuffer: 16 << 20 }).catch((error: unknown) => {
      throw cannot(`${path.basename(aptGet)} download`, error);
    });
    const deb = (await readdir(work)).find((name) => name.startsWith(`${OPENCLIPART_PACKAGE}_`) && name.endsWith('.deb'));
    if (!deb) throw cannot('apt-get download', new Error('no .deb was downloaded'));
    const unpacked = path.join(work, 'root');
    const dpkgDeb = options.dpkgDeb ?? 'dpkg-deb';
    await run(dpkgDeb, ['-x', path.join(work, deb), unpacked], { maxBuffer: 16 << 20 }).catch((error: unknown) => {
      throw cannot(`${path.basename(dpkgDeb)} -x`, error);
    });
    if (!existsSync(path.join(unpacked, SVG_ROOT))) throw cannot('dpkg-deb -x', new Error(`the package has no ${SVG_ROOT}`));
    await rm(target, { recursive: true, force: true });
    await rename(unpacked, target);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  return readOpenClipArt(target);
}

/**
 * The unpacked package: every drawing with its metadata, and the licence. NOT_FOUND until fetched.
 * Symlinks are skipped: the package files some drawings under a second category as a link to the
 * first (663 of 8,121), and one drawing is one item.
 */
export async function readOpenClipArt(dir: string): Promise<ArtworkCorpus> {
  const svgDir = path.join(dir, SVG_ROOT);
  if (!existsSync(svgDir)) {
    throw createError('NOT_FOUND', `the Open Clip Art corpus is not in ${dir}: run \`parasol corpus fetch openclipart\` first`);
  }
  const license = licenseFromCopyright(await readFile(path.join(dir, COPYRIGHT), 'utf8').catch(() => ''));
  const items: ArtworkItem[] = [];
  for (const file of await svgFiles(svgDir)) {
    const text = await readFile(path.join(svgDir, file), 'utf8');
    items.push(artworkItem(file, parseSvgMetadata(text)));
  }
  return { dir, svgDir, license, items };
}

async function svgFiles(root: string, sub = ''): Promise<string[]> {
  const entries = await readdir(path.join(root, sub), { withFileTypes: true });
  entries.sort((a, b) => a.name.localeCompare(b.name));
  const files: string[] = [];
  for (const entry of entries) {
    const relative = sub ? `${sub}/${entry.name}` : entry.name;
    if (entry.isDirectory()) files.push(...(await svgFiles(root, relative)));
    else if (entry.isFile() && entry.name.toLowerCase().endsWith('.svg')) files.push(relative);
  }
  return files;
}

export interface SvgMetadata {
  title?: string;
  subjects: string[];
  creator?: string;
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function decodeXml(text: string): string {
  return text
    .replace(/<!\[CDATA\[([\s\S]*?)\]\]>/g, '$1')
    .replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (whole, name: string) => {
      if (name[0] === '#') {
        const code = name[1] === 'x' || name[1] === 'X' ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10);
        return Number.isFinite(code) && code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
      }
      return ENTITIES[name.toLowerCase()] ?? whole;
    })
    .replace(/\s+/g, ' ')
    .trim();
}

/** The text of the first `<tag>` element (no attributes needed), decoded; undefined when absent or empty. */
function elementText(xml: string, tag: string): string | undefined {
  const match = new RegExp(`<${tag}(?:\\s[^>]*)?>([\\s\\S]*?)</${tag}>`).exec(xml);
  const text = match ? decodeXml(match[1].replace(/<[^>]+>/g, ' ')) : '';
  return text || undefined;
}

function block(xml: string, tag: string): string | undefined {
  return new RegExp(`<${tag}(?:\\s[^>]*)?>([\\s\\S]*?)</${tag}>`).exec(xml)?.[1];
}

/**
 * The Dublin Core metadata of an Open Clip Art SVG: the work's own dc:title (not the publisher's,
 * creator's or rights holder's, which are nested agents with titles of their own), the dc:subject
 * bag, and the creator agent's title.
 */
export function parseSvgMetadata(svg: string): SvgMetadata {
  const work = block(svg, 'cc:Work') ?? block(svg, 'metadata') ?? '';
  const agents = /<dc:(publisher|creator|rights|contributor)(?:\s[^>]*)?>[\s\S]*?<\/dc:\1>/g;
  const creatorBlock = block(work, 'dc:creator');
  const subjectBlock = block(work, 'dc:subject') ?? '';
  const items = [...subjectBlock.matchAll(/<rdf:li(?:\s[^>]*)?>([\s\S]*?)<\/rdf:li>/g)].map((m) => m[1]);
  const subjects = (items.length > 0 ? items : [subjectBlock])
    .flatMap((item) => decodeXml(item.replace(/<[^>]+>/g, ' ')).split(/[,;]/))
    .map((subject) => subject.trim())
    .filter((subject) => !EMPTY_SUBJECTS.has(subject.toLowerCase()));
  return {
    title: elementText(work.replace(agents, ''), 'dc:title'),
    subjects: [...new Set(subjects)],
    creator: creatorBlock ? (elementText(creatorBlock, 'dc:title') ?? elementText(creatorBlock, 'cc:Agent')) : undefined,
  };
}

/** `science/scale_01.svg` → `scale 01`: the file's own name, for drawings without a title. */
function titleFromFile(file: string): string {
  return path.posix.basename(file, path.posix.extname(file)).replace(/[_-]+/g, ' ').trim() || file;
}

function artworkItem(file: string, metadata: SvgMetadata): ArtworkItem {
  const category = path.posix.dirname(file) === '.' ? '' : path.posix.dirname(file);
  const slug = file.replace(/\.svg$/i, '').replace(/[^A-Za-z0-9._~-]+/g, '~');
  return {
    id: `${OPENCLIPART_SOURCE}:${slug}`.slice(0, 128),
    path: file,
    title: metadata.title ?? titleFromFile(file),
    keywords: metadata.subjects,
    ...(metadata.creator ? { creator: metadata.creator } : {}),
    category,
  };
}

/**
 * The licence the package's copyright file states. Debian's file for this package says
 * "creative commons Public Domain Dedication" under `Copyright:`; anything else it might say is
 * reported as written (its first line), and no file at all as unknown.
 */
export function licenseFromCopyright(text: string): string {
  const after = /^Copyright:\s*$([\s\S]*)/m.exec(text)?.[1] ?? text;
  const first = after.split('\n').map((line) => line.trim()).find(Boolean);
  if (!first) return 'unknown';
  if (/public\s+domain\s+dedication/i.test(first)) return 'Creative Commons Public Domain Dedication';
  return first.slice(0, 200);
}
