// Pantheon's verifier in TypeScript: a second implementation of
// docs/FORMATS.md (not the Rust code compiled to WebAssembly), for the
// browser page and for Node scripts.

export { verifyDocument, type Verdict, type Options, type Fact, type DocumentKind } from './verify.js';
export { verifyBundle, LinkError, type Trust, type BundleFacts } from './bundle.js';
export { verifyRecordProof, verifyRecord, decodeRecord, jcs, bodyHash } from './record.js';
export { verifyOperatorExport } from './export.js';
export { genesisHeaderFromFile } from './genesis.js';
export { otsOperations, writeOts, replay, type Op } from './ots.js';
export * as bytes from './bytes.js';
export * as codec from './codec.js';
export * as merkle from './merkle.js';
export * as bitcoin from './bitcoin.js';
export * as json from './json.js';
