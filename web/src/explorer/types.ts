// The shapes of the node's answers the explorer reads (rpc/src/types.rs;
// `rpc.discover` has their schemas). Integers are JSON numbers below 2^53
// here (heights, sizes, times); amounts are decimal strings.

export type Status = 'received' | 'finalized' | 'anchored';

export interface Header {
  height: number;
  parent: string;
  time_ms: number;
  proposer: number;
  tx_count: number;
  tx_root: string;
  log_size: number;
  log_root: string;
  state_root: string;
  last_certificate?: string;
}

export interface HeaderInfo {
  hash: string;
  header: Header;
  header_hex: string;
  certificate_hex: string;
  signers: number;
}

export interface BlockInfo extends HeaderInfo {
  tx_ids: string[];
  txs: string[];
}

export interface BlockTxPage {
  height: number;
  offset: number;
  total: number;
  txs: string[];
  next?: number;
}

export interface AnchorInfo {
  id: number;
  height: number;
  block_hash: string;
  txid: string | null;
  bitcoin_block: string | null;
  confirmations: number;
  bitcoin_height?: number | null;
}

export interface SubmissionInfo {
  id: string;
  operator: string;
  seq: number;
  prev: string;
  root: string;
  label: string;
  record_count: number | null;
  status: Status;
  height: number | null;
  block_hash: string | null;
  log_index: number | null;
  anchor?: AnchorInfo | null;
}

export interface OperatorInfo {
  id: string;
  public_key: string;
  next_seq: number;
  last_submission: { id: string; root: string; height: number } | null;
  pending_next_seq: number;
  pending_prev: string;
  balance: string;
  balance_pan: string;
  nonce: number;
}

export interface SupplyInfo {
  height: number;
  supply: string;
  sum_of_balances: string;
  accounts: number;
  conserved: boolean;
}

export interface SupplyProof {
  supply_proof: number;
  genesis_hash: string;
  genesis?: string;
  height: number;
  block: { header: string; certificate: string };
  accounts: { id: string; record: string }[];
}

export interface EngineAnchor {
  target: { height: number; commitment: string };
  txid: string;
  versions: number;
  block_hash: string | null;
  block_height: number | null;
  confirmations: number;
}

export interface AnchorEngineStatus {
  network: string;
  address: string;
  reachable: boolean | null;
  checked_at: number | null;
  tip_height: number | null;
  balance: number | null;
  waiting: { height: number; commitment: string } | null;
  pending: EngineAnchor[];
  confirmed: EngineAnchor[];
  last_error: string | null;
}

export interface VersionInfo {
  version: string;
  genesis_hash: string;
  chain_id: string;
}

export interface Health {
  height: number;
  syncing: boolean;
  peers: number;
  mempool: number;
  warnings: string[];
}

export interface GenesisInfo {
  hash: string;
  header: string;
}
