// Parses a mermaid file with mermaid's own parser (the npm package `mermaid`)
// and prints what it understood as JSON: diagram type, node ids with their
// labels, edges (from, to, label) and subgraphs with their members. Exits
// non-zero with the parser's message when the text does not parse.
//
//   node parse.mjs FILE
//
// mermaid sanitizes labels with DOMPurify, which needs a browser window;
// parsing needs none of it, so its hooks are no-ops here.
import { readFileSync } from 'node:fs';
import DOMPurify from 'dompurify';

for (const f of ['addHook', 'removeHook', 'removeHooks', 'removeAllHooks']) DOMPurify[f] ??= () => {};
DOMPurify.sanitize ??= (s) => s;
const { default: mermaid } = await import('mermaid');

const text = readFileSync(process.argv[2], 'utf8');
try {
  await mermaid.parse(text);
  const d = await mermaid.mermaidAPI.getDiagramFromText(text);
  const nodes = Object.fromEntries([...d.db.getVertices().entries()].map(([id, v]) => [id, v.text]));
  const edges = d.db.getEdges().map((e) => [e.start, e.end, e.text]);
  const subgraphs = Object.fromEntries(d.db.getSubGraphs().map((s) => [s.id, [...s.nodes].sort()]));
  console.log(JSON.stringify({ type: d.type, nodes, edges, subgraphs }));
} catch (e) {
  console.error(String(e.message ?? e).split('\n').slice(0, 3).join('\n'));
  process.exit(1);
}
