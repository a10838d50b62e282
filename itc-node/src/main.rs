//! The `itc-node` command: run a node, write a local testnet, and talk to a
//! running node as a client (`keygen`, `tx ...`, `query ...`; see
//! [`itc_node::cli`]).
//!
//! Exit status: 0 on success, 1 on a failure, 2 on a usage error, 3 when a
//! query's answer did not verify.

use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(name = "itc-node", version, about = "ITC validator node and client")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Write keys, genesis and configurations for a local network.
    Init {
        /// Number of validators.
        #[arg(long, default_value_t = 4)]
        testnet: usize,
        /// Directory to write into.
        #[arg(long)]
        dir: PathBuf,
        /// Funded client accounts (keys under DIR/accounts).
        #[arg(long, default_value_t = 4)]
        accounts: usize,
        /// Chain id.
        #[arg(long, default_value_t = 1)]
        chain_id: u32,
        /// Blocks per epoch.
        #[arg(long, default_value_t = 1000)]
        epoch_length: u64,
    },
    /// Run a node until SIGTERM or Ctrl-C.
    Run {
        /// The node's configuration file.
        #[arg(long)]
        config: PathBuf,
    },
    #[command(flatten)]
    Client(itc_node::cli::ClientCommand),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("ITC_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,libp2p=warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let result = match cli.command {
        Command::Init {
            testnet,
            dir,
            accounts,
            chain_id,
            epoch_length,
        } => itc_node::testnet::init(
            &dir,
            &itc_node::testnet::TestnetOptions {
                validators: testnet,
                accounts,
                chain_id,
                epoch_length,
                seed: None,
            },
        )
        .map(|net| {
            for config in &net.configs {
                println!("{}", config.display());
            }
        }),
        Command::Run { config } => run(config),
        Command::Client(command) => {
            return match itc_node::cli::run(command) {
                Ok(value) => {
                    println!("{value}");
                    std::process::ExitCode::SUCCESS
                }
                Err(error) => {
                    eprintln!("itc-node: {error}");
                    std::process::ExitCode::from(error.exit_code())
                }
            };
        }
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("itc-node: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(config: PathBuf) -> Result<(), String> {
    let config = itc_node::config::NodeConfig::load(&config).map_err(|e| e.to_string())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(async move {
        let node = itc_node::node::start(config)
            .await
            .map_err(|e| e.to_string())?;
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                .map_err(|e| e.to_string())?;
        tokio::select! {
            _ = terminate.recv() => tracing::info!("SIGTERM: stopping"),
            _ = tokio::signal::ctrl_c() => tracing::info!("interrupt: stopping"),
        }
        node.shutdown().await.map_err(|e| e.to_string())?;
        tracing::info!("stopped cleanly");
        Ok(())
    })
}
