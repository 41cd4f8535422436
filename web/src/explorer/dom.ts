// Small DOM helpers for the explorer: every text goes in as text (never
// as HTML), so nothing a node answers can run in the page.

export type Child = Node | string | number | bigint | null | undefined | false;

export function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    e.append(c instanceof Node ? c : String(c));
  }
  return e;
}

/** A link inside the explorer (hash route). */
export function link(route: string, text: Child, attrs: Record<string, string> = {}): HTMLAnchorElement {
  return el('a', { href: `#/${route}`, ...attrs }, text);
}

/** A hash, shortened for tables (the whole one in its title). */
export function short(hex: string): HTMLElement {
  return el('code', { title: hex, class: 'hash' }, hex.length > 20 ? `${hex.slice(0, 10)}…${hex.slice(-6)}` : hex);
}

/** A hash in full. */
export function full(hex: string, id?: string): HTMLElement {
  return el('code', id ? { class: 'hash full', id } : { class: 'hash full' }, hex);
}

export function time(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
}

/** A definition list from label/value pairs (values null are left out). */
export function facts(rows: [string, Child][]): HTMLDListElement {
  const dl = el('dl', { class: 'facts' });
  for (const [k, v] of rows) {
    if (v === null || v === undefined) continue;
    dl.append(el('dt', {}, k), el('dd', {}, v));
  }
  return dl;
}

export function table(head: string[], rows: HTMLTableRowElement[], attrs: Record<string, string> = {}): HTMLElement {
  return el('div', { class: 'scroll' }, el('table', attrs, el('thead', {}, el('tr', {}, ...head.map((h) => el('th', { scope: 'col' }, h)))), el('tbody', {}, ...rows)));
}

export function row(cells: Child[], attrs: Record<string, string> = {}): HTMLTableRowElement {
  return el('tr', attrs, ...cells.map((c) => el('td', {}, c)));
}

export function section(title: string, id: string, ...children: Child[]): HTMLElement {
  return el('section', { 'aria-labelledby': `${id}-h`, id }, el('h2', { id: `${id}-h` }, title), ...children);
}

export function note(text: string, cls = 'small'): HTMLElement {
  return el('p', { class: cls }, text);
}

export function status(s: string): HTMLElement {
  return el('span', { class: `status ${s}`, 'data-status': s }, s);
}
