//! The command line: `serve`, `client create`, `keys rotate` and `keys list`.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};
use serde::Serialize;

use crate::clients::{
    self, Audience, ClientError, ClientId, MAX_TTL_SECS, NewClient, SecretError, SecretHasher, Ttl,
};
use crate::clock::{Clock, SystemClock};
use crate::config::{self, IssuerUrl, ServeConfig};
use crate::keys::{self, KeyError, KeyInfo, KeySealer, PlaintextSealer, SigningAlg};
use crate::scope::Scope;
use crate::server::{self, ServeError};
use crate::store::{Store, StoreError};

/// OAuth 2 client-credentials issuer of short-lived JWT access tokens.
#[derive(Debug, Parser)]
#[command(name = "issuer", version)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the public (OAuth) and admin HTTP ports until Ctrl-C or SIGTERM.
    Serve(ServeArgs),
    /// Manage clients.
    #[command(subcommand)]
    Client(ClientCommand),
    /// Manage signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
}

/// `issuer client …`.
#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Register a client and print its secret, which is shown this once only.
    Create(ClientCreateArgs),
}

/// `issuer keys …`.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Make a new key current; previous keys stay published as retired.
    Rotate(KeysRotateArgs),
    /// List every key with its status.
    List(KeysListArgs),
}

/// Where the database is.
#[derive(Debug, Args)]
pub struct DatabaseArgs {
    /// Database URL; the SQLite file and its directory are created if missing.
    #[arg(long, env = "DATABASE_URL", default_value = config::DEFAULT_DATABASE_URL)]
    pub database_url: String,
}

/// Flags of `issuer serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    db: DatabaseArgs,
    /// Address of the public OAuth port (port 0 picks a free one).
    #[arg(long, env = "ISSUER_PUBLIC_ADDR", default_value = config::DEFAULT_PUBLIC_ADDR)]
    public_addr: SocketAddr,
    /// Address of the admin port, which has no authentication: keep it private.
    #[arg(long, env = "ISSUER_ADMIN_ADDR", default_value = config::DEFAULT_ADMIN_ADDR)]
    admin_addr: SocketAddr,
    /// Issuer identifier (`iss`); defaults to http:// + the bound public address.
    #[arg(long, env = "ISSUER_URL")]
    issuer_url: Option<IssuerUrl>,
    /// Signing algorithm: ES256, EdDSA or RS256 (2048-bit).
    #[arg(long, env = "ISSUER_SIGNING_ALG", default_value = "ES256")]
    signing_alg: SigningAlg,
}

impl From<ServeArgs> for ServeConfig {
    fn from(args: ServeArgs) -> Self {
        Self {
            database_url: args.db.database_url,
            public_addr: args.public_addr,
            admin_addr: args.admin_addr,
            issuer_url: args.issuer_url,
            signing_alg: args.signing_alg,
        }
    }
}

/// Flags of `issuer client create`.
#[derive(Debug, Args)]
pub struct ClientCreateArgs {
    #[command(flatten)]
    db: DatabaseArgs,
    /// Client identifier, e.g. svc.warehouse ([A-Za-z0-9._:-], at most 128).
    #[arg(value_parser = ClientId::parse)]
    client_id: ClientId,
    /// Space-separated scopes the client may request.
    #[arg(long, value_parser = Scope::parse)]
    scope: Scope,
    /// Audience (`aud`) of the client's tokens.
    #[arg(long, default_value = "quantjourney", value_parser = Audience::parse)]
    audience: Audience,
    /// Lifetime of the client's tokens in seconds (1 to 86400).
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..=MAX_TTL_SECS))]
    ttl: u64,
}

/// Flags of `issuer keys rotate`.
#[derive(Debug, Args)]
pub struct KeysRotateArgs {
    #[command(flatten)]
    db: DatabaseArgs,
    /// Algorithm of the new key: ES256, EdDSA or RS256.
    #[arg(long, env = "ISSUER_SIGNING_ALG", default_value = "ES256")]
    signing_alg: SigningAlg,
}

/// Flags of `issuer keys list`.
#[derive(Debug, Args)]
pub struct KeysListArgs {
    #[command(flatten)]
    db: DatabaseArgs,
    /// Print a JSON array instead of a table.
    #[arg(long)]
    json: bool,
}

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CliError {
    /// The database could not be opened.
    #[error("cannot open the database")]
    Store(#[from] StoreError),
    /// A client operation failed.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The secret hashing key could not be prepared.
    #[error(transparent)]
    Secret(#[from] SecretError),
    /// A key operation failed.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The server failed.
    #[error(transparent)]
    Serve(#[from] ServeError),
    /// Writing the result failed.
    #[error("cannot write output")]
    Output(#[from] std::io::Error),
}

/// Runs `command` to completion.
pub async fn run(command: Command) -> Result<(), CliError> {
    match command {
        Command::Serve(args) => Ok(server::serve(args.into()).await?),
        Command::Client(ClientCommand::Create(args)) => client_create(args).await,
        Command::Keys(KeysCommand::Rotate(args)) => keys_rotate(args).await,
        Command::Keys(KeysCommand::List(args)) => keys_list(args).await,
    }
}

/// What `client create` prints: the only time the secret is ever shown.
#[derive(Serialize)]
struct CreatedClient<'a> {
    client_id: &'a str,
    client_secret: &'a str,
    scope: String,
    audience: &'a str,
    ttl: u64,
}

async fn client_create(args: ClientCreateArgs) -> Result<(), CliError> {
    let store = Store::open(&args.db.database_url).await?;
    let hasher = SecretHasher::load(&store).await?;
    let new = NewClient {
        id: args.client_id,
        scope: args.scope,
        audience: args.audience,
        ttl: Ttl::try_from(args.ttl).map_err(ClientError::from)?,
    };
    let result = clients::register(&store, &hasher, new, SystemClock.now()).await;
    store.close().await;
    let (client, secret) = result?;
    print_json(&CreatedClient {
        client_id: client.id.as_str(),
        client_secret: secret.expose(),
        scope: client.scope.to_string(),
        audience: client.audience.as_str(),
        ttl: client.ttl.secs(),
    })
}

#[derive(Serialize)]
struct RotatedKey<'a> {
    kid: &'a str,
    alg: SigningAlg,
    status: &'static str,
}

async fn keys_rotate(args: KeysRotateArgs) -> Result<(), CliError> {
    let store = Store::open(&args.db.database_url).await?;
    let sealer: Arc<dyn KeySealer> = Arc::new(PlaintextSealer);
    let result = keys::rotate(&store, sealer.as_ref(), args.signing_alg, SystemClock.now()).await;
    store.close().await;
    let kid = result?;
    print_json(&RotatedKey {
        kid: &kid,
        alg: args.signing_alg,
        status: "current",
    })
}

async fn keys_list(args: KeysListArgs) -> Result<(), CliError> {
    let store = Store::open(&args.db.database_url).await?;
    let result = keys::list(&store).await;
    store.close().await;
    let keys = result?;
    if args.json {
        return print_json(&keys);
    }
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{:<43}  {:<5}  {:<7}  CREATED_AT",
        "KID", "ALG", "STATUS"
    )?;
    for KeyInfo {
        kid,
        alg,
        status,
        created_at,
        ..
    } in &keys
    {
        let status = match status {
            keys::KeyStatus::Current => "current",
            keys::KeyStatus::Retired => "retired",
        };
        writeln!(out, "{kid:<43}  {alg:<5}  {status:<7}  {created_at}")?;
    }
    out.flush()?;
    Ok(())
}

fn print_json<T: Serialize>(value: &T) -> Result<(), CliError> {
    let line = serde_json::to_string(value).map_err(std::io::Error::other)?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")?;
    out.flush()?;
    Ok(())
}
