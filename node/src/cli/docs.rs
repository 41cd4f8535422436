//! `pantheon completions SHELL` and `pantheon man --out DIR`: shell
//! completion scripts (`clap_complete`) and man pages (`clap_mangen`),
//! both generated from the one clap definition of [`super::Cli`], so a
//! new flag appears in them without anyone writing it twice.
//!
//! The man pages are `pantheon.1` and one page per visible subcommand at
//! every level, named by its path (`pantheon-submit.1`,
//! `pantheon-testnet-up.1`); hidden commands get none.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::CommandFactory;

use super::Cli;

/// Writes the completion script of `shell` to `out`.
///
/// # Errors
/// A failed write.
pub fn completions(shell: clap_complete::Shell, out: &mut dyn Write) -> Result<()> {
    let mut cmd = Cli::command();
    clap_complete::generate(shell, &mut cmd, "pantheon", out);
    out.flush().context("writing the completion script")?;
    Ok(())
}

/// Writes the man pages into `dir` (created if missing); returns their
/// paths, the top-level page first.
///
/// # Errors
/// A directory or file that cannot be written.
pub fn man_pages(dir: &Path) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    // Built, so that each subcommand knows its full name
    // (`pantheon-testnet-up`) and the `help` subcommand is left out.
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    let mut written = Vec::new();
    write_pages(&cmd, dir, &mut written)?;
    Ok(written)
}

fn write_pages(cmd: &clap::Command, dir: &Path, written: &mut Vec<PathBuf>) -> Result<()> {
    let man = clap_mangen::Man::new(cmd.clone());
    let path = dir.join(man.get_filename());
    let mut page = Vec::new();
    man.render(&mut page)
        .with_context(|| format!("rendering {}", path.display()))?;
    pantheon_anchor::fsio::write_atomic(&path, &page)
        .with_context(|| format!("writing {}", path.display()))?;
    written.push(path);
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        write_pages(sub, dir, written)?;
    }
    Ok(())
}
