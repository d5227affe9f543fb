// A small, safe markdown renderer for the assistant's text.
//
// Safety comes first and by construction: the text is HTML-escaped before any markup is
// recognised, and the only tags ever produced are the ones written below. Links keep
// http(s) targets only. Supported: paragraphs (single newlines kept as line breaks),
// fenced code blocks (an unclosed fence, as while streaming, runs to the end), code
// spans, **bold**, *italic* / _italic_, "-"/"*"/"+" and "1." lists, "#" headings,
// "> " quotes and [links](https://…).

export function escapeHtml(text) {
  return text
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&#39;");
}

const FENCE = /^\s{0,3}(```+|~~~+)\s*([\w+-]*)\s*$/;
const BULLET = /^\s{0,3}[-*+]\s+(.*)$/;
const ORDERED = /^\s{0,3}(\d{1,9})[.)]\s+(.*)$/;
const HEADING = /^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$/;
const QUOTE = /^\s{0,3}&gt;\s?(.*)$/;

export function renderMarkdown(source) {
  const lines = escapeHtml(String(source || "").replace(/\u0000/g, "").replace(/\r\n?/g, "\n")).split("\n");
  const out = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    const fence = line.match(FENCE);
    if (fence) {
      const body = [];
      i += 1;
      while (i < lines.length && !lines[i].trim().startsWith(fence[1])) body.push(lines[i++]);
      i += 1; // the closing fence (or past the end)
      const lang = fence[2] ? ` data-lang="${fence[2]}"` : "";
      out.push(`<pre class="md-code"${lang}><code>${body.join("\n")}</code></pre>`);
      continue;
    }
    if (!line.trim()) {
      i += 1;
      continue;
    }
    const heading = line.match(HEADING);
    if (heading) {
      const level = Math.min(heading[1].length + 2, 6); // h3..h6: inside a chat message
      out.push(`<h${level} class="md-heading">${inline(heading[2])}</h${level}>`);
      i += 1;
      continue;
    }
    if (BULLET.test(line) || ORDERED.test(line)) {
      const ordered = !BULLET.test(line);
      const pattern = ordered ? ORDERED : BULLET;
      const items = [];
      const start = ordered ? Number(line.match(ORDERED)[1]) : 1;
      while (i < lines.length) {
        const match = lines[i].match(pattern);
        if (match) {
          items.push(ordered ? match[2] : match[1]);
        } else if (lines[i].trim() && /^\s{2,}/.test(lines[i]) && items.length) {
          items[items.length - 1] += `\n${lines[i].trim()}`; // a continuation line
        } else {
          break;
        }
        i += 1;
      }
      const tag = ordered ? "ol" : "ul";
      const startAttr = ordered && start !== 1 ? ` start="${start}"` : "";
      out.push(`<${tag}${startAttr}>${items.map((item) => `<li>${inline(item)}</li>`).join("")}</${tag}>`);
      continue;
    }
    if (QUOTE.test(line)) {
      const quoted = [];
      while (i < lines.length && QUOTE.test(lines[i])) quoted.push(lines[i++].match(QUOTE)[1]);
      out.push(`<blockquote>${inline(quoted.join("\n"))}</blockquote>`);
      continue;
    }
    const para = [];
    while (
      i < lines.length &&
      lines[i].trim() &&
      !FENCE.test(lines[i]) &&
      !HEADING.test(lines[i]) &&
      !BULLET.test(lines[i]) &&
      !ORDERED.test(lines[i]) &&
      !QUOTE.test(lines[i])
    ) {
      para.push(lines[i++]);
    }
    out.push(`<p>${inline(para.join("\n"))}</p>`);
  }
  return out.join("");
}

// Inline markup on already-escaped text. Code spans are set aside first so nothing
// inside them is formatted; placeholders use a character the input cannot contain.
function inline(text) {
  const spans = [];
  let html = text.replace(/(`+)([^`]|[^`][\s\S]*?[^`])\1(?!`)/g, (_, ticks, code) => {
    spans.push(`<code>${code.trim() || code}</code>`);
    return `\u0000${spans.length - 1}\u0000`;
  });
  html = html.replace(/\[([^\]\n]+)\]\((https?:\/\/[^\s()]+)\)/g, (_, label, url) => {
    spans.push(`<a href="${url}" target="_blank" rel="noopener noreferrer">${label}</a>`);
    return `\u0000${spans.length - 1}\u0000`;
  });
  html = html
    .replace(/\*\*(?=\S)([\s\S]*?\S)\*\*/g, "<strong>$1</strong>")
    .replace(/(^|[^\w])__(?=\S)([\s\S]*?\S)__(?!\w)/g, "$1<strong>$2</strong>")
    .replace(/(^|[^*\w])\*(?=\S)([^*\n]*?\S)\*(?![*\w])/g, "$1<em>$2</em>")
    .replace(/(^|[^_\w])_(?=\S)([^_\n]*?\S)_(?![_\w])/g, "$1<em>$2</em>")
    .replace(/\n/g, "<br>");
  // Link labels may hold formatting and code spans, so restore until none are left.
  for (let round = 0; round < 3 && html.includes("\u0000"); round += 1) {
    html = html.replace(/\u0000(\d+)\u0000/g, (_, n) => spans[Number(n)]);
  }
  return html;
}
