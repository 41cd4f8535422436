//! `pantheon anchor`: a node's Bitcoin anchor key and address, and a running
//! node's anchoring.

use anyhow::Result;
use pantheon_rpc::api::PantheonRpcClient;
use serde_json::json;

use super::AnchorCommand;
use crate::{client, config};

/// `pantheon anchor`.
///
/// # Errors
/// A bad key or network, or the node's error.
pub async fn run(command: AnchorCommand) -> Result<()> {
    match command {
        AnchorCommand::Address { key, network, json } => {
            let network = config::bitcoin_network(&network)?;
            if let Some(dir) = key.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let k = pantheon_anchor::AnchorKey::load_or_create(&key)?;
            let address = k.address(network);
            if json {
                println!(
                    "{}",
                    json!({ "address": address.to_string(), "network": network.to_string(), "key": key })
                );
            } else {
                println!("{address}");
            }
            Ok(())
        }
        AnchorCommand::Status { client } => {
            let c = client::Client::new(&client.rpc)?;
            let status = c.answer(c.rpc().anchor_status().await)?;
            let anchors = c.answer(c.rpc().anchor_list(0, u64::MAX).await)?;
            let out = json!({ "engine": status, "recorded": anchors });
            if client.json {
                println!("{out:#}");
            } else {
                println!("{}", serde_json::to_string_pretty(&out)?);
            }
            Ok(())
        }
    }
}
