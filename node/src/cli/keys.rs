//! `pantheon keys`: generate and show ML-DSA-65 key files.

use anyhow::Result;
use serde_json::json;

use super::KeysCommand;
use crate::keyfile;

/// `pantheon keys`.
///
/// # Errors
/// An unreadable, invalid or existing (without `--force`) key file.
pub fn run(command: KeysCommand) -> Result<()> {
    let (key, json) = match command {
        KeysCommand::Generate { out, force, json } => {
            let key = keyfile::generate()?;
            keyfile::write(&out, &key, force)?;
            (key, json)
        }
        KeysCommand::Show { file, json } => (keyfile::read(&file)?, json),
    };
    let public_key = hex::encode(key.public().as_bytes());
    if json {
        println!("{}", json!({ "id": key.id(), "public_key": public_key }));
    } else {
        println!("id:         {}", key.id());
        println!("public key: {public_key}");
    }
    Ok(())
}
