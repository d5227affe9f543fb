// A tiny syntax highlighter for the read-only code view: HTML (with inline <script> and
// <style>), CSS and JavaScript. Output is escaped text in <span class="tok-…"> elements;
// anything it does not recognise stays plain, so a wrong guess only loses colour.

import { escapeHtml } from "./markdown.js";

const JS_KEYWORDS =
  "async await break case catch class const continue debugger default delete do else export extends " +
  "finally for from function get if import in instanceof let new of return set static super switch this " +
  "throw try typeof var void while with yield";
const JS_LITERALS = "true false null undefined NaN Infinity";

const JS_RULES = [
  ["comment", /\/\/[^\n]*|\/\*[\s\S]*?(?:\*\/|$)/y],
  ["string", /`(?:\\[\s\S]|[^`\\])*`?|"(?:\\.|[^"\\\n])*"?|'(?:\\.|[^'\\\n])*'?/y],
  ["number", /(?:0[xX][\da-fA-F_]+|\d[\d_]*(?:\.\d+)?(?:[eE][+-]?\d+)?n?)(?![\w$])/y],
  ["word", /[A-Za-z_$][\w$]*/y],
  ["plain", /\s+|[^\sA-Za-z_$\d"'`/]+|\//y],
];

const CSS_RULES = [
  ["comment", /\/\*[\s\S]*?(?:\*\/|$)/y],
  ["string", /"(?:\\.|[^"\\\n])*"?|'(?:\\.|[^'\\\n])*'?/y],
  ["atrule", /@[\w-]+/y],
  ["brace", /[{}]/y],
  ["property", /--?[A-Za-z][\w-]*(?=\s*:)|[A-Za-z][\w-]*(?=\s*:)/y],
  ["number", /#[\da-fA-F]{3,8}\b|-?\d*\.?\d+(?:%|[a-zA-Z]+)?/y],
  ["word", /[\w-]+/y],
  ["plain", /\s+|[^\s\w"'/@{}#-]+|[/#-]/y],
];

const KEYWORD_SET = new Set(JS_KEYWORDS.split(" "));
const LITERAL_SET = new Set(JS_LITERALS.split(" "));

function span(cls, text) {
  const escaped = escapeHtml(text);
  return cls ? `<span class="tok-${cls}">${escaped}</span>` : escaped;
}

function scan(source, rules, classify) {
  let out = "";
  let pos = 0;
  const state = { depth: 0 };
  while (pos < source.length) {
    let matched = false;
    for (const [name, re] of rules) {
      re.lastIndex = pos;
      const m = re.exec(source);
      if (m && m[0].length) {
        out += span(classify(name, m[0], state), m[0]);
        pos += m[0].length;
        matched = true;
        break;
      }
    }
    if (!matched) {
      out += escapeHtml(source[pos]);
      pos += 1;
    }
  }
  return out;
}

export function highlightJs(source) {
  return scan(source, JS_RULES, (name, text) => {
    if (name === "word") {
      if (KEYWORD_SET.has(text)) return "keyword";
      if (LITERAL_SET.has(text)) return "literal";
      return null;
    }
    return name === "plain" ? null : name;
  });
}

export function highlightCss(source) {
  return scan(source, CSS_RULES, (name, text, state) => {
    if (name === "brace") {
      state.depth = Math.max(0, state.depth + (text === "{" ? 1 : -1));
      return null;
    }
    if (name === "property") return state.depth > 0 ? "property" : "selector";
    if (name === "word") return state.depth > 0 ? null : "selector";
    if (name === "number") return state.depth > 0 ? "number" : "selector";
    return name === "plain" ? null : name;
  });
}

const HTML_TOKEN = /<!--[\s\S]*?(?:-->|$)|<![^>]*>?|<\/?[A-Za-z][\w:-]*(?:\s+[^\s"'>\/=]+(?:\s*=\s*(?:"[^"]*"?|'[^']*'?|[^\s>]+))?)*\s*\/?>?/g;
const ATTR = /(\s+)([^\s"'>\/=]+)(?:(\s*=\s*)("[^"]*"?|'[^']*'?|[^\s>]+))?/gy;

function highlightTag(tag) {
  const head = tag.match(/^<\/?[A-Za-z][\w:-]*/)[0];
  let out = span("punct", head.startsWith("</") ? "</" : "<") + span("tag", head.replace(/^<\/?/, ""));
  let pos = head.length;
  ATTR.lastIndex = pos;
  let m;
  while ((m = ATTR.exec(tag))) {
    out += escapeHtml(m[1]) + span("attr", m[2]);
    if (m[3]) out += escapeHtml(m[3]) + span("string", m[4]);
    pos = ATTR.lastIndex;
  }
  return out + span("punct", tag.slice(pos));
}

export function highlightHtml(source) {
  let out = "";
  let pos = 0;
  HTML_TOKEN.lastIndex = 0;
  let m;
  while ((m = HTML_TOKEN.exec(source))) {
    out += escapeHtml(source.slice(pos, m.index));
    const token = m[0];
    pos = m.index + token.length;
    if (token.startsWith("<!--")) {
      out += span("comment", token);
      continue;
    }
    if (token.startsWith("<!")) {
      out += span("meta", token);
      continue;
    }
    out += highlightTag(token);
    const name = (token.match(/^<([A-Za-z][\w:-]*)/) || [])[1];
    const embedded = name && { script: highlightJs, style: highlightCss }[name.toLowerCase()];
    if (embedded) {
      const close = source.toLowerCase().indexOf(`</${name.toLowerCase()}`, pos);
      const end = close === -1 ? source.length : close;
      out += embedded(source.slice(pos, end));
      pos = end;
      HTML_TOKEN.lastIndex = end;
    }
  }
  return out + escapeHtml(source.slice(pos));
}

const BY_EXTENSION = {
  html: highlightHtml,
  htm: highlightHtml,
  svg: highlightHtml,
  xml: highlightHtml,
  css: highlightCss,
  js: highlightJs,
  mjs: highlightJs,
  cjs: highlightJs,
  json: highlightJs,
  ts: highlightJs,
};
const MAX_HIGHLIGHT_CHARS = 300_000; // past this, plain text keeps the page responsive

export function highlight(path, source) {
  const ext = (path.split(".").pop() || "").toLowerCase();
  const fn = BY_EXTENSION[ext];
  if (!fn || source.length > MAX_HIGHLIGHT_CHARS) return escapeHtml(source);
  return fn(source);
}
