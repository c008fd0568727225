// A small strict XML parser for tests: elements, attributes, text, comments, the five predefined
// entities and character references. Throws on anything not well-formed. No DTDs, no namespaces.

/** A parsed element. */
export interface XmlElement {
  /** Tag name. */
  name: string;
  /** Attributes, values unescaped. */
  attrs: Record<string, string>;
  /** Child elements and text, in order. */
  children: (XmlElement | string)[];
}

const NAME = /^[A-Za-z_:][\w.:-]*/;
const ENTITY: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };
// deno-lint-ignore no-control-regex
const BAD_CHAR = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/;

/** Replaces entity and character references; a bare `&` or `<`, or an unknown entity, throws. */
function unescape(raw: string, at: number): string {
  if (raw.includes("<")) throw new SyntaxError(`Raw "<" in text or attribute near ${at}`);
  if (BAD_CHAR.test(raw)) throw new SyntaxError(`Character not allowed in XML near ${at}`);
  return raw.replace(/&([^;&\s]*);?/g, (m, name: string) => {
    if (!m.endsWith(";")) throw new SyntaxError(`Bare "&" near ${at}`);
    if (name in ENTITY) return ENTITY[name];
    const num = /^#x([0-9a-fA-F]+)$/.exec(name) ?? /^#(\d+)$/.exec(name);
    if (!num) throw new SyntaxError(`Unknown entity "&${name};" near ${at}`);
    return String.fromCodePoint(parseInt(num[1], name[1] === "x" ? 16 : 10));
  });
}

/** Parses a document with one root element (an optional XML declaration first). */
export function parseXml(src: string): XmlElement {
  let i = 0;
  const skipMisc = () => {
    for (;;) {
      while (/\s/.test(src[i] ?? "")) i++;
      if (src.startsWith("<!--", i)) {
        const end = src.indexOf("-->", i);
        if (end < 0) throw new SyntaxError(`Unclosed comment at ${i}`);
        i = end + 3;
      } else if (src.startsWith("<?", i)) {
        const end = src.indexOf("?>", i);
        if (end < 0) throw new SyntaxError(`Unclosed declaration at ${i}`);
        i = end + 2;
      } else return;
    }
  };
  const element = (): XmlElement => {
    if (src[i] !== "<") throw new SyntaxError(`Expected "<" at ${i}`);
    i++;
    const name = NAME.exec(src.slice(i))?.[0];
    if (!name) throw new SyntaxError(`Bad tag name at ${i}`);
    i += name.length;
    const attrs: Record<string, string> = {};
    for (;;) {
      const ws = /^\s*/.exec(src.slice(i))![0].length;
      i += ws;
      if (src.startsWith("/>", i)) {
        i += 2;
        return { name, attrs, children: [] };
      }
      if (src[i] === ">") {
        i++;
        break;
      }
      if (ws === 0) throw new SyntaxError(`Expected space before attribute at ${i}`);
      const an = NAME.exec(src.slice(i))?.[0];
      if (!an) throw new SyntaxError(`Bad attribute name at ${i} in <${name}>`);
      i += an.length;
      const m = /^\s*=\s*(["'])/.exec(src.slice(i));
      if (!m) throw new SyntaxError(`Attribute "${an}" without a quoted value at ${i}`);
      i += m[0].length;
      const end = src.indexOf(m[1], i);
      if (end < 0) throw new SyntaxError(`Unclosed attribute "${an}" at ${i}`);
      if (an in attrs) throw new SyntaxError(`Duplicate attribute "${an}" in <${name}>`);
      attrs[an] = unescape(src.slice(i, end), i);
      i = end + 1;
    }
    const children: (XmlElement | string)[] = [];
    for (;;) {
      if (i >= src.length) throw new SyntaxError(`Unclosed <${name}>`);
      if (src.startsWith("</", i)) {
        const m = /^<\/([A-Za-z_:][\w.:-]*)\s*>/.exec(src.slice(i));
        if (!m || m[1] !== name) {
          throw new SyntaxError(`Expected </${name}> at ${i}, found ${src.slice(i, i + 20)}`);
        }
        i += m[0].length;
        return { name, attrs, children };
      }
      if (src.startsWith("<!--", i)) {
        const end = src.indexOf("-->", i);
        if (end < 0) throw new SyntaxError(`Unclosed comment at ${i}`);
        i = end + 3;
      } else if (src[i] === "<") {
        children.push(element());
      } else {
        const end = src.indexOf("<", i);
        const stop = end < 0 ? src.length : end;
        if (src.slice(i, stop).includes(">")) {
          // ">" is legal in text, but the plots never write it raw: catch a missed escape.
          throw new SyntaxError(`Raw ">" in text at ${i}`);
        }
        children.push(unescape(src.slice(i, stop), i));
        i = stop;
      }
    }
  };
  skipMisc();
  const root = element();
  skipMisc();
  if (i !== src.length) throw new SyntaxError(`Content after the root element at ${i}`);
  return root;
}

/** Every element below (and including) `root`, depth first. */
export function allElements(root: XmlElement): XmlElement[] {
  const out = [root];
  for (const c of root.children) if (typeof c !== "string") out.push(...allElements(c));
  return out;
}

/** Elements with a given name, optionally with a given class. */
export function select(root: XmlElement, name: string, cls?: string): XmlElement[] {
  return allElements(root).filter((e) =>
    e.name === name && (cls === undefined || (e.attrs.class ?? "").split(" ").includes(cls))
  );
}

/** The text inside an element (its descendants' text joined). */
export function textOf(e: XmlElement): string {
  return e.children.map((c) => typeof c === "string" ? c : textOf(c)).join("");
}
