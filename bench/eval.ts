import { evaluateAnswers, formatReport } from "./eval-answers.js";
import { evaluateSciFact } from "./eval-scifact.js";
import { sciFactAvailable, sciFactMissing } from "./scifact.js";

/**
 * `npm run eval`: retrieval quality on BEIR SciFact (when its data is there), then answer quality on
 * the project's own question set (no external data). Fails only when retrieval falls below the
 * published BM25 baseline; the answer figures are a measurement (their floors are asserted in
 * test/unit/answer-eval.test.ts).
 */
let code = 0;
if (sciFactAvailable()) {
  const r = await evaluateSciFact();
  console.log(`BEIR SciFact (test): ${r.queries} queries over ${r.docs} abstracts`);
  console.log(`  nDCG@10    ${r.ndcg10.toFixed(4)}   (published BM25: 0.665; Anserini flat: 0.6789)`);
  console.log(`  Recall@100 ${r.recall100.toFixed(4)}   (published BM25: 0.908; Anserini flat: 0.9253)`);
  if (r.ndcg10 < 0.665) code = 1;
} else {
  console.log(`${sciFactMissing()}\nRetrieval evaluation skipped; the answer evaluation needs no download.`);
}
console.log("");
console.log(formatReport(await evaluateAnswers(), process.argv.includes("--verbose")));
process.exit(code);
