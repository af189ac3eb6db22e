/**
 * Generate: content and style pickers, λ / g_s / g_y / steps sliders, colour transfer, a seed
 * with a dice button, then an async job (POST /v1/generate → 202 {jobId}, polled at
 * GET /v1/jobs/:id) with a progress bar and cancel; the result can be searched with, downloaded,
 * and carries its provenance. A server without the generate routes (404 ROUTE_NOT_FOUND) gets a
 * clear "not available" message instead of a broken form, and so does one whose model pack has no
 * generator (503 GENERATION_UNAVAILABLE).
 */
import { api, ApiError, describeError, type GenerateRequest, type Job } from './api.js';
import { h, uid } from './dom.js';
import { createPicker } from './picker.js';

export interface GenerateView {
  el: HTMLElement;
  /** Checks, once, whether the server has the generate routes. */
  activate(): void;
  focus(): void;
}

const POLL_MS = 400;
/** The engine's λ when a request has none: half the steps. */
const DEFAULT_LAMBDA_SHARE = 0.5;
const DONE = new Set(['succeeded']);
const FAILED = new Set(['failed']);
const CANCELLED = new Set(['cancelled']);

function slider(label: string, name: string, min: number, max: number, step: number, value: number, hint: string) {
  const id = uid(name);
  const input = h('input', { id, name, type: 'range', min: String(min), max: String(max), step: String(step), value: String(value), 'aria-describedby': `${id}-hint` }) as HTMLInputElement;
  const output = h('output', { for: id, class: 'slider-value' }, String(value));
  const sync = () => {
    output.textContent = input.value;
    input.setAttribute('aria-valuetext', input.value);
  };
  input.addEventListener('input', sync);
  const el = h('div', { class: 'slider' }, h('label', { for: id }, label), input, output, h('p', { id: `${id}-hint`, class: 'hint' }, hint));
  return { el, input, sync, value: () => Number(input.value) };
}

export function createGenerateView(onSearchWithImage: (image: Blob, name: string) => void): GenerateView {
  const content = createPicker('Content', { name: 'gen-content', placeholder: 'e.g. a red apple' });
  const style = createPicker('Style', { name: 'gen-style', placeholder: 'e.g. flat pastel' });
  const steps = slider('Steps', 'steps', 1, 100, 1, 25, 'Denoising steps T: more is slower and finer.');
  // The sliders start at the engine's own defaults (src/parasol/generate.ts: λ = round(T / 2),
  // g_s 5, g_y 3), so an untouched panel generates what the API and the CLI would.
  const lambda = slider('λ (style switch)', 'lambda', 0, 25, 1, Math.round(DEFAULT_LAMBDA_SHARE * 25), 'Steps kept on the content image’s own style before switching to the target style; T reproduces the content image.');
  const gs = slider('g_s (style guidance)', 'gs', 0, 15, 0.5, 5, 'How strongly the style is followed.');
  const gy = slider('g_y (content guidance)', 'gy', 0, 15, 0.5, 3, 'How strongly the content is followed.');
  // λ lives in [0, T]: when T changes, λ keeps its share of the steps.
  let lambdaShare = DEFAULT_LAMBDA_SHARE;
  lambda.input.addEventListener('input', () => (lambdaShare = lambda.value() / steps.value()));
  steps.input.addEventListener('input', () => {
    lambda.input.max = steps.input.value;
    lambda.input.value = String(Math.round(lambdaShare * steps.value()));
    lambda.sync();
  });
  const colour = h('input', { id: 'gen-colour', name: 'colorTransfer', type: 'checkbox', checked: true }) as HTMLInputElement;
  const seed = h('input', { id: 'gen-seed', name: 'seed', type: 'number', min: '0', max: '2147483647', step: '1', value: String(randomSeed()), inputmode: 'numeric' }) as HTMLInputElement;
  const dice = h('button', { type: 'button', class: 'secondary dice', 'aria-label': 'Random seed', title: 'Random seed', onclick: () => (seed.value = String(randomSeed())) }, diceIcon());

  const submit = h('button', { type: 'submit', class: 'primary' }, 'Generate');
  const cancel = h('button', { type: 'button', class: 'secondary', hidden: true, onclick: () => void cancelJob() }, 'Cancel');
  const progress = h('progress', { max: 1, value: 0, 'aria-label': 'Generation progress', hidden: true }) as HTMLProgressElement;
  const status = h('p', { class: 'status', role: 'status', 'aria-live': 'polite' });
  const errorBox = h('div', { class: 'error', role: 'alert', hidden: true });
  const unavailableDetail = h('span', {});
  const unavailable = h(
    'div',
    { class: 'unavailable', role: 'alert', hidden: true },
    h('strong', {}, 'Generation is not available on this server. '),
    unavailableDetail,
    ' Search, refinement and interpolation still work.',
  );
  const result = h('div', { class: 'gen-result', hidden: true });

  const form = h(
    'form',
    { class: 'gen-form', 'aria-label': 'Generation settings' },
    h('fieldset', {}, h('legend', {}, 'What and how'), content.el, style.el),
    h('fieldset', { class: 'sliders' }, h('legend', {}, 'Sampler'), steps.el, lambda.el, gs.el, gy.el),
    h(
      'fieldset',
      { class: 'gen-options' },
      h('legend', {}, 'Options'),
      h('div', { class: 'check' }, colour, h('label', { for: 'gen-colour' }, 'Colour transfer (match the style’s colours)')),
      h('div', { class: 'seed' }, h('label', { for: 'gen-seed' }, 'Seed'), seed, dice),
    ),
    h('div', { class: 'form-actions' }, submit, cancel, progress),
  );

  const el = h(
    'section',
    { class: 'view view-generate', 'aria-label': 'Generate' },
    h('h2', {}, 'Generate'),
    h('p', { class: 'hint' }, 'Make the image the index lacks: a content drawn in a style. Pick texts, or results pinned with ★ in Search.'),
    unavailable,
    h('div', { class: 'gen-layout' }, form, h('div', { class: 'gen-side' }, errorBox, status, result)),
  );

  let checked = false;
  let jobId: string | null = null;
  let resultUrl: string | null = null;

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void generate();
  });

  const setUnavailable = (error: ApiError) => {
    unavailableDetail.textContent =
      error.code === 'ROUTE_NOT_FOUND' ? 'It has no generation routes (/v1/generate).' : `${error.message.replace(/[.]?$/, '.')}`;
    unavailable.hidden = false;
    for (const control of form.querySelectorAll<HTMLInputElement | HTMLButtonElement | HTMLSelectElement>('input, button, select')) control.disabled = true;
    form.classList.add('disabled');
    status.textContent = 'Generation is not available on this server.';
  };
  const showError = (message: string) => {
    errorBox.textContent = message;
    errorBox.hidden = false;
  };
  /** No generate routes (an older server), or routes but no generator in the model pack. */
  const isUnavailable = (error: unknown): error is ApiError =>
    error instanceof ApiError && (error.code === 'ROUTE_NOT_FOUND' || error.code === 'GENERATION_UNAVAILABLE');

  async function generate(): Promise<void> {
    errorBox.hidden = true;
    const c = content.value();
    const s = style.value();
    if (!c || !s) {
      showError('Choose a content and a style (a text or a pinned result) first.');
      return;
    }
    const request: GenerateRequest = {
      content: c,
      style: s,
      lambda: lambda.value(),
      gs: gs.value(),
      gy: gy.value(),
      steps: steps.value(),
      seed: Math.max(0, Math.floor(Number(seed.value) || 0)),
      colorTransfer: colour.checked,
    };
    submit.disabled = true;
    try {
      const { jobId: id } = await api.generate(request);
      jobId = id;
      cancel.hidden = false;
      progress.hidden = false;
      progress.value = 0;
      status.textContent = 'Queued…';
      await follow(id, request, { content: content.describe(), style: style.describe() });
    } catch (error) {
      if (isUnavailable(error)) setUnavailable(error);
      else showError(describeError(error));
    } finally {
      if (!form.classList.contains('disabled')) submit.disabled = false;
      cancel.hidden = true;
      jobId = null;
    }
  }

  async function follow(id: string, request: GenerateRequest, names: { content: string; style: string }): Promise<void> {
    for (;;) {
      const job: Job = await api.job(id);
      const total = Number(job.total) || request.steps;
      const step = Number(job.step) || 0;
      progress.max = total;
      progress.value = Math.min(step, total);
      const state = String(job.state);
      if (DONE.has(state)) {
        progress.value = total;
        const image = await api.jobImage(id);
        showResult(id, image, request, names, job);
        status.textContent = 'Done: the generated image is below.';
        progress.hidden = true;
        return;
      }
      if (FAILED.has(state)) {
        progress.hidden = true;
        const error = job.error;
        status.textContent = 'The generation failed.';
        throw new Error(typeof error === 'string' ? error : (error?.message ?? 'The generation failed.'));
      }
      if (CANCELLED.has(state)) {
        progress.hidden = true;
        status.textContent = 'Cancelled.';
        return;
      }
      status.textContent = state === 'queued' ? 'Queued…' : `Step ${step} of ${total}`;
      progress.setAttribute('aria-valuetext', `${step} of ${total} steps`);
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  }

  async function cancelJob(): Promise<void> {
    if (!jobId) return;
    try {
      await api.cancelJob(jobId);
      status.textContent = 'Cancelling…';
    } catch (error) {
      showError(describeError(error));
    }
  }

  function showResult(id: string, image: Blob, request: GenerateRequest, names: { content: string; style: string }, job: Job): void {
    if (resultUrl) URL.revokeObjectURL(resultUrl);
    resultUrl = URL.createObjectURL(image);
    const ext = image.type.split('/')[1]?.replace('jpeg', 'jpg') || 'png';
    const filename = `parasol-${request.seed}.${ext}`;
    const provenance: Array<[string, string]> = [
      ['Content', names.content],
      ['Style', names.style],
      ['Steps', String(request.steps)],
      ['λ', String(request.lambda)],
      ['g_s', String(request.gs)],
      ['g_y', String(request.gy)],
      ['Colour transfer', request.colorTransfer ? 'on' : 'off'],
      ['Seed', String(request.seed)],
      ['Job', id],
    ];
    // What the server says it ran with (defaults filled in), where the sources came from, and when.
    const ran = (job.result ?? job.params) as Record<string, unknown> | undefined;
    if (ran && typeof ran === 'object') {
      for (const [key, value] of Object.entries(ran)) provenance.push([`server: ${key}`, typeof value === 'string' ? value : JSON.stringify(value)]);
    }
    if (job.sources) provenance.push(['Sources', JSON.stringify(job.sources)]);
    if (typeof job.finishedAt === 'string') provenance.push(['Finished', new Date(job.finishedAt).toLocaleString()]);
    const timing = job.timing as { runMs?: number } | undefined;
    if (typeof timing?.runMs === 'number') provenance.push(['Run time', `${(timing.runMs / 1000).toFixed(1)} s`]);
    provenance.push(['Image', 'AI-generated; the PNG carries this provenance in its text chunks']);
    result.replaceChildren(
      h('h3', {}, 'Result'),
      h('img', { src: resultUrl, alt: `Generated: ${names.content} in the style of ${names.style}`, class: 'gen-image' }),
      h(
        'div',
        { class: 'gen-actions' },
        h('button', { type: 'button', class: 'primary', onclick: () => onSearchWithImage(image, filename) }, 'Search with this image'),
        h('a', { class: 'button secondary', href: resultUrl, download: filename }, 'Download'),
      ),
      h('details', { class: 'provenance', open: true }, h('summary', {}, 'Provenance'), h('dl', {}, ...provenance.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]))),
    );
    result.hidden = false;
  }

  return {
    el,
    activate() {
      if (checked) return;
      checked = true;
      // An empty request queues nothing: 400 means generation is there; ROUTE_NOT_FOUND that the
      // server has no generate routes, GENERATION_UNAVAILABLE that its model pack has no generator.
      api.probeGenerate().then(
        () => undefined,
        (error: unknown) => {
          if (isUnavailable(error)) setUnavailable(error);
        },
      );
    },
    focus: () => (form.querySelector('select, input') as HTMLElement | null)?.focus(),
  };
}

/** A die as inline SVG: icon fonts and emoji are not guaranteed on every system. */
function diceIcon(): SVGSVGElement {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('aria-hidden', 'true');
  const box = document.createElementNS(ns, 'rect');
  for (const [k, v] of Object.entries({ x: '3', y: '3', width: '18', height: '18', rx: '4', fill: 'none', stroke: 'currentColor', 'stroke-width': '2' })) box.setAttribute(k, v);
  svg.appendChild(box);
  for (const [cx, cy] of [[8, 8], [16, 8], [12, 12], [8, 16], [16, 16]]) {
    const dot = document.createElementNS(ns, 'circle');
    dot.setAttribute('cx', String(cx));
    dot.setAttribute('cy', String(cy));
    dot.setAttribute('r', '1.6');
    dot.setAttribute('fill', 'currentColor');
    svg.appendChild(dot);
  }
  return svg;
}

function randomSeed(): number {
  const buf = new Uint32Array(1);
  crypto.getRandomValues(buf);
  return buf[0] % 2147483647;
}
