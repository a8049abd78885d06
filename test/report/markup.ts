/**
 * A strict little checker for the markup renderReport emits (test oracle, not a general HTML
 * parser): every non-void element closed in order, every attribute double-quoted with no raw
 * `<` or `"` inside, no raw `<` or `>` in text, and every entity one of the few the escaper writes.
 */

const VOID = new Set(['meta', 'br', 'hr', 'img', 'input', 'link', 'wbr', 'col', 'area', 'base', 'source']);
const ENTITY = /&(?:amp|lt|gt|quot|#39);/g;

export interface Tag {
  name: string;
  attrs: Record<string, string>;
}

/** Throws with a description of the first problem; returns every opening tag in order. */
export function checkMarkup(html: string): Tag[] {
  const tags: Tag[] = [];
  const stack: string[] = [];
  let i = 0;
  const doctype = '<!DOCTYPE html>';
  if (html.startsWith(doctype)) i = doctype.length;
  while (i < html.length) {
    const lt = html.indexOf('<', i);
    const textEnd = lt === -1 ? html.length : lt;
    checkText(html.slice(i, textEnd), i);
    if (lt === -1) break;
    const gt = html.indexOf('>', lt);
    if (gt === -1) throw new Error(`unterminated tag at ${lt}`);
    const raw = html.slice(lt + 1, gt);
    const close = /^\/([a-zA-Z][\w-]*)\s*$/.exec(raw);
    if (close) {
      const top = stack.pop();
      if (top !== close[1]) throw new Error(`</${close[1]}> at ${lt} closes <${top ?? 'nothing'}>`);
      i = gt + 1;
      continue;
    }
    const open = /^([a-zA-Z][\w-]*)((?:\s+[a-zA-Z_:][\w:.-]*(?:="[^"<]*")?)*)\s*(\/?)$/.exec(raw);
    if (!open) throw new Error(`malformed tag <${raw.slice(0, 80)}> at ${lt}`);
    const name = open[1]!;
    const attrs: Record<string, string> = {};
    for (const m of open[2]!.matchAll(/\s+([a-zA-Z_:][\w:.-]*)(?:="([^"<]*)")?/g)) {
      if (m[1]! in attrs) throw new Error(`duplicate attribute ${m[1]} on <${name}> at ${lt}`);
      checkEntities(m[2] ?? '', lt);
      attrs[m[1]!] = m[2] ?? '';
    }
    tags.push({ name, attrs });
    i = gt + 1;
    if (open[3] === '/' || VOID.has(name)) continue;
    if (name === 'style') {
      // raw text element: runs to its end tag
      const end = html.indexOf('</style>', i);
      if (end === -1) throw new Error('unterminated <style>');
      i = end + '</style>'.length;
      continue;
    }
    stack.push(name);
  }
  if (stack.length > 0) throw new Error(`unclosed elements: ${stack.join(' > ')}`);
  return tags;
}

function checkEntities(s: string, at: number): void {
  const stripped = s.replace(ENTITY, '');
  if (stripped.includes('&')) throw new Error(`unexpected & (not one of the escaper's entities) near ${at}: ${s.slice(0, 80)}`);
}

function checkText(s: string, at: number): void {
  if (s.includes('>')) throw new Error(`raw > in text at ${at}: ${s.slice(0, 80)}`);
  checkEntities(s, at);
}

/** The text content of the markup: tags removed, the escaper's entities decoded. */
export function textOf(html: string): string {
  return html
    .replace(/<style>[\s\S]*?<\/style>/g, '')
    .replace(/<[^>]*>/g, ' ')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&');
}
