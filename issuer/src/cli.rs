//! The command line: `serve`, `client create`, `keys rotate`, `keys list` and
//! `admin reset-credential`, `audit verify` and `audit tail`.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use serde::Serialize;

use crate::admin::credential::{self, AdminCredentialError};
use crate::audit::{self, Audit, AuditError, AuditEvent, AuditRecord, ChainBreak, Outcome};
use crate::clients::{Audience, ClientId, ClientKind, MAX_TTL_SECS, SecretError, SecretHasher};
use crate::clock::{Clock, SystemClock};
use crate::config::{self, IssuerUrl, ServeConfig};
use crate::keys::{
    self, KeyError, KeyInfo, KeySettings, MasterKeySource, RotationPolicy, SigningAlg, Urgency,
};
use crate::ops::clients::{self, AuthMethod, Registration};
use crate::ops::{Caller, Ctx, OpError};
use crate::scope::Scope;
use crate::server::{self, ServeError};
use crate::store::{Store, StoreError};

/// OAuth 2 client-credentials issuer of short-lived JWT access tokens.
#[derive(Debug, Parser)]
#[command(name = "issuer", version)]
pub struct Cli {
    /// Format of the logs on stderr: `text`, or `json` (one object per line, for collectors).
    #[arg(
        long,
        global = true,
        env = "ISSUER_LOG_FORMAT",
        value_enum,
        default_value = "text"
    )]
    pub log_format: LogFormat,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
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
    /// Manage the admin API credential.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Inspect the hash-chained audit trail.
    #[command(subcommand)]
    Audit(AuditCommand),
}

/// `issuer audit …`.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check every record's hash and link: prints {"ok":true,"records":N,"head":"<hex>"}, or
    /// where the chain breaks and exits 1.
    Verify(DatabaseArgs),
    /// Show the newest records, one per line.
    Tail(AuditTailArgs),
}

/// Flags of `issuer audit tail`.
#[derive(Debug, Args)]
pub struct AuditTailArgs {
    #[command(flatten)]
    db: DatabaseArgs,
    /// How many of the newest records to show.
    #[arg(short = 'n', long = "lines", default_value_t = 20, value_parser = clap::value_parser!(u32).range(0..=100_000))]
    lines: u32,
    /// One JSON object per line instead of text.
    #[arg(long)]
    json: bool,
    /// Keep printing new records as they are appended, until Ctrl-C.
    #[arg(long)]
    follow: bool,
}

/// `issuer admin …`.
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Revoke every admin API credential and print a new one, which is shown this once only.
    ResetCredential(DatabaseArgs),
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
    /// Make the next key current (it must have been published for a JWKS max-age) and publish a
    /// new next key; the previous key stays published as retired until its tokens expire.
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
    /// Address of the admin port (admin API and browser UI at /ui/, behind the admin
    /// credential; plain HTTP, so keep it on loopback or a private network).
    #[arg(long, env = "ISSUER_ADMIN_ADDR", default_value = config::DEFAULT_ADMIN_ADDR)]
    admin_addr: SocketAddr,
    /// Issuer identifier (`iss`); defaults to http:// + the bound public address.
    #[arg(long, env = "ISSUER_URL")]
    issuer_url: Option<IssuerUrl>,
    #[command(flatten)]
    keys: KeyArgs,
    /// Directory of the verifier's JS package (wasm-bindgen output; `make build` puts it under
    /// target/js/verifier), read once at start-up and served to the admin UI at /ui/verifier/.
    /// Without it the UI cannot verify tokens.
    #[arg(long, env = "ISSUER_VERIFIER_JS_DIR", value_name = "DIR")]
    verifier_js_dir: Option<PathBuf>,
    /// The gateway filter's JSON configuration (as given to Envoy), shown by the admin UI to
    /// explain gateway decisions. Checked at start-up: an invalid file stops the server.
    #[arg(long, env = "ISSUER_GATEWAY_CONFIG", value_name = "FILE")]
    gateway_config: Option<PathBuf>,
    /// The most agents a token exchange may chain (1 to 10): an exchange that would make a
    /// longer chain is refused, never truncated.
    #[arg(
        long,
        env = "ISSUER_MAX_DELEGATION_DEPTH",
        default_value_t = verifier_core::defaults::DEFAULT_MAX_DELEGATION_DEPTH as u64,
        value_parser = clap::value_parser!(u64).range(1..=verifier_core::limits::MAX_DELEGATION_DEPTH)
    )]
    max_delegation_depth: u64,
}

/// How keys are made and rotated: shared by `serve` and `keys rotate`, so both follow one policy.
#[derive(Debug, Args)]
pub struct KeyArgs {
    /// Signing algorithm: ES256, EdDSA or RS256 (2048-bit).
    #[arg(long, env = "ISSUER_SIGNING_ALG", default_value = "ES256")]
    signing_alg: SigningAlg,
    /// How long a key signs before the scheduler rotates it (e.g. 7d, 12h, 3600).
    #[arg(long, env = "ISSUER_KEY_ROTATION_PERIOD", default_value = "7d", value_parser = config::parse_duration_secs)]
    key_rotation_period: u64,
    /// JWKS `Cache-Control: max-age`; a next key is published at least this long before it signs.
    #[arg(long, env = "ISSUER_JWKS_MAX_AGE", default_value = "300", value_parser = config::parse_duration_secs)]
    jwks_max_age: u64,
    /// File holding the master key that encrypts private keys at rest (32 bytes, or 64 hex digits
    /// or base64 text, as Vault agent renders it). `ISSUER_MASTER_KEY` (the key itself) wins over
    /// it. With neither, a development key is created next to the SQLite file, with a warning.
    #[arg(long, env = "ISSUER_MASTER_KEY_FILE")]
    master_key_file: Option<PathBuf>,
}

impl KeyArgs {
    fn rotation(&self) -> Result<RotationPolicy, KeyError> {
        RotationPolicy::new(self.key_rotation_period, self.jwks_max_age)
    }

    /// The master key's sources: the environment is read here, at the edge, and only here.
    fn master_key(&self, database_url: &str) -> MasterKeySource {
        MasterKeySource {
            env_value: std::env::var(keys::master_key::ENV_MASTER_KEY).ok(),
            file: self.master_key_file.clone(),
            dev_file: Some(keys::dev_key_path(database_url)),
        }
    }
}

impl TryFrom<ServeArgs> for ServeConfig {
    type Error = KeyError;

    fn try_from(args: ServeArgs) -> Result<Self, KeyError> {
        Ok(Self {
            rotation: args.keys.rotation()?,
            master_key: args.keys.master_key(&args.db.database_url),
            database_url: args.db.database_url,
            public_addr: args.public_addr,
            admin_addr: args.admin_addr,
            issuer_url: args.issuer_url,
            signing_alg: args.keys.signing_alg,
            verifier_js_dir: args.verifier_js_dir,
            gateway_config: args.gateway_config,
            // At most 10 (the parser's range): fits any usize.
            max_delegation_depth: args.max_delegation_depth as usize,
        })
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
    /// `service` (its tokens name itself) or `agent` (it may also act for other principals by
    /// token exchange).
    #[arg(long, default_value = "service", value_parser = ClientKind::parse)]
    kind: ClientKind,
    /// Space-separated scopes the client may request.
    #[arg(long, value_parser = Scope::parse)]
    scope: Scope,
    /// Audience (`aud`) of the client's tokens.
    #[arg(long, default_value = clients::DEFAULT_AUDIENCE, value_parser = Audience::parse)]
    audience: Audience,
    /// Lifetime of the client's tokens in seconds (1 to 86400).
    #[arg(long, default_value_t = clients::DEFAULT_TTL_SECS, value_parser = clap::value_parser!(u64).range(1..=MAX_TTL_SECS))]
    ttl: u64,
    /// A public JWKS file: register a `private_key_jwt` client (RFC 7523) that authenticates
    /// with assertions signed by these keys and has no secret at all.
    #[arg(long)]
    jwks_file: Option<PathBuf>,
}

/// Flags of `issuer keys rotate`.
#[derive(Debug, Args)]
pub struct KeysRotateArgs {
    #[command(flatten)]
    db: DatabaseArgs,
    #[command(flatten)]
    keys: KeyArgs,
    /// Sign with a brand-new key at once instead of the pre-published next key (the current
    /// key is compromised); gateways pick it up by their unknown-kid refetch.
    #[arg(long)]
    emergency: bool,
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
    /// An operation failed.
    #[error(transparent)]
    Op(#[from] OpError),
    /// The secret hashing key could not be prepared.
    #[error(transparent)]
    Secret(#[from] SecretError),
    /// A key could not be used.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The server failed.
    #[error(transparent)]
    Serve(#[from] ServeError),
    /// The admin credential could not be replaced.
    #[error(transparent)]
    AdminCredential(#[from] AdminCredentialError),
    /// Writing the result failed.
    #[error("cannot write output")]
    Output(#[from] std::io::Error),
    /// An input file could not be read.
    #[error("cannot read {path}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The audit trail could not be read.
    #[error(transparent)]
    Audit(#[from] AuditError),
    /// `audit verify` found a record that does not check out.
    #[error(transparent)]
    ChainBroken(ChainBreak),
}

/// Runs `command` to completion.
pub async fn run(command: Command) -> Result<(), CliError> {
    match command {
        Command::Serve(args) => Ok(server::serve(args.try_into()?).await?),
        Command::Client(ClientCommand::Create(args)) => client_create(args).await,
        Command::Keys(KeysCommand::Rotate(args)) => keys_rotate(args).await,
        Command::Keys(KeysCommand::List(args)) => keys_list(args).await,
        Command::Admin(AdminCommand::ResetCredential(args)) => admin_reset_credential(args).await,
        Command::Audit(AuditCommand::Verify(args)) => audit_verify(args).await,
        Command::Audit(AuditCommand::Tail(args)) => audit_tail(args).await,
    }
}

/// Runs `operation` on `store` as the operator's (actor `cli`, source `local`), recorded
/// through an audit writer of its own that is stopped before returning.
async fn as_operator<T>(store: &Store, operation: impl AsyncFnOnce(Ctx<'_>) -> T) -> T {
    let audit = Audit::new(store.clone(), Arc::new(SystemClock));
    let ctx = Ctx {
        store,
        audit: &audit,
        now: SystemClock.now(),
    };
    let result = operation(ctx).await;
    audit.close().await;
    result
}

/// What `admin reset-credential` prints, in the same shape as the server's first-start line.
#[derive(Serialize)]
struct AdminCredentialLine<'a> {
    event: &'static str,
    id: &'a str,
    token: &'a str,
    revoked: u64,
}

async fn admin_reset_credential(args: DatabaseArgs) -> Result<(), CliError> {
    let store = Store::open(&args.database_url).await?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let result = credential::reset(&store, clock.now()).await;
    if let Ok((credential, revoked)) = &result {
        let audit = Audit::new(store.clone(), Arc::clone(&clock));
        let event = AuditEvent {
            actor: "cli".to_owned(),
            action: "admin.credential.reset",
            target: credential.id.clone(),
            source: "local".to_owned(),
            outcome: Outcome::Success,
            detail: serde_json::json!({ "revoked": revoked }),
        };
        if let Err(err) = audit.record(event).await {
            // The new credential is in force either way; printing it matters more.
            tracing::error!(error = %err, "cannot audit the admin credential reset");
        }
        audit.close().await;
    }
    store.close().await;
    let (credential, revoked) = result?;
    print_json(&AdminCredentialLine {
        event: "admin_credential",
        id: &credential.id,
        token: credential.token.expose(),
        revoked,
    })
}

/// What `client create` prints: the only time the secret is ever shown.
#[derive(Serialize)]
struct CreatedClient<'a> {
    client_id: &'a str,
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_secret: Option<&'a str>,
    auth_method: &'static str,
    scope: String,
    audience: &'a str,
    ttl: u64,
}

async fn client_create(args: ClientCreateArgs) -> Result<(), CliError> {
    let store = Store::open(&args.db.database_url).await?;
    let result = client_create_with(&store, &args).await;
    store.close().await;
    let created = result?;
    let client = &created.client;
    print_json(&CreatedClient {
        client_id: client.id.as_str(),
        kind: client.kind.as_str(),
        client_secret: created.secret.as_ref().map(|secret| secret.expose()),
        auth_method: created.auth_method.as_str(),
        scope: client.scope.to_string(),
        audience: client.audience.as_str(),
        ttl: client.ttl.secs(),
    })
}

async fn client_create_with(
    store: &Store,
    args: &ClientCreateArgs,
) -> Result<clients::Registered, CliError> {
    let hasher = SecretHasher::load(store).await?;
    let jwks = match &args.jwks_file {
        Some(path) => Some(
            std::fs::read_to_string(path).map_err(|source| CliError::Read {
                path: path.display().to_string(),
                source,
            })?,
        ),
        None => None,
    };
    let registration = Registration {
        client_id: args.client_id.as_str().to_owned(),
        kind: args.kind,
        scope: args.scope.to_string(),
        audience: Some(args.audience.as_str().to_owned()),
        ttl: Some(args.ttl),
        auth_method: if jwks.is_some() {
            AuthMethod::PrivateKeyJwt
        } else {
            AuthMethod::ClientSecret
        },
        jwks,
    };
    let register =
        async |ctx: Ctx<'_>| clients::register(ctx, &hasher, &Caller::Cli, registration).await;
    Ok(as_operator(store, register).await?)
}

#[derive(Serialize)]
struct RotatedKey<'a> {
    kid: &'a str,
    alg: SigningAlg,
    status: &'static str,
}

async fn keys_rotate(args: KeysRotateArgs) -> Result<(), CliError> {
    let store = Store::open(&args.db.database_url).await?;
    let result = keys_rotate_with(&store, &args).await;
    store.close().await;
    print_json(&RotatedKey {
        kid: &result?,
        alg: args.keys.signing_alg,
        status: "current",
    })
}

async fn keys_rotate_with(store: &Store, args: &KeysRotateArgs) -> Result<String, CliError> {
    let source = args.keys.master_key(&args.db.database_url);
    let sealer = keys::open_sealer(store, source).await?;
    let urgency = if args.emergency {
        Urgency::Emergency
    } else {
        Urgency::Planned
    };
    let alg = args.keys.signing_alg;
    // Rotation settings that contradict each other are refused and recorded, like a failed
    // rotation: the operator asked for one.
    let rotated = match args.keys.rotation() {
        Ok(rotation) => {
            let settings = KeySettings {
                alg,
                rotation,
                sealer,
            };
            let rotate = async |ctx: Ctx<'_>| {
                crate::ops::keys::rotate(ctx, &settings, &Caller::Cli, urgency).await
            };
            as_operator(store, rotate).await
        }
        Err(error) => {
            let refuse = async |ctx: Ctx<'_>| {
                crate::ops::keys::refuse_rotation(ctx, &Caller::Cli, alg, urgency, error).await
            };
            as_operator(store, refuse).await
        }
    };
    Ok(rotated?)
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
            keys::KeyStatus::Next => "next",
            keys::KeyStatus::Current => "current",
            keys::KeyStatus::Retired => "retired",
        };
        writeln!(out, "{kid:<43}  {alg:<5}  {status:<7}  {created_at}")?;
    }
    out.flush()?;
    Ok(())
}

/// What `audit verify` prints when the chain holds.
#[derive(Serialize)]
struct Verified {
    ok: bool,
    records: u64,
    head: String,
}

/// What `audit verify` prints when it does not: how far it held, and the first bad record.
#[derive(Serialize)]
struct Broken {
    ok: bool,
    records: u64,
    head: String,
    seq: i64,
    reason: &'static str,
    message: String,
}

async fn audit_verify(args: DatabaseArgs) -> Result<(), CliError> {
    let store = Store::open(&args.database_url).await?;
    let result = audit::verify(&store).await;
    store.close().await;
    let verification = result?;
    let head = audit::chain::hex(&verification.head);
    match verification.broken {
        None => print_json(&Verified {
            ok: true,
            records: verification.records,
            head,
        }),
        Some(broken) => {
            print_json(&Broken {
                ok: false,
                records: verification.records,
                head,
                seq: broken.seq,
                reason: broken.reason.code(),
                message: broken.reason.to_string(),
            })?;
            Err(CliError::ChainBroken(broken))
        }
    }
}

/// How often `audit tail --follow` asks for new records.
const FOLLOW_INTERVAL: Duration = Duration::from_secs(1);

async fn audit_tail(args: AuditTailArgs) -> Result<(), CliError> {
    let store = Store::open(&args.db.database_url).await?;
    let result = audit_tail_with(&store, &args).await;
    store.close().await;
    result
}

async fn audit_tail_with(store: &Store, args: &AuditTailArgs) -> Result<(), CliError> {
    // At least one, so `-n 0 --follow` still learns where the trail ends.
    let latest = store
        .audit_latest(args.lines.max(1))
        .await
        .map_err(AuditError::from)?;
    let mut after = latest.last().map_or(0, |record| record.seq);
    let shown = latest.len().min(args.lines as usize);
    print_records(&latest[latest.len() - shown..], args.json)?;
    if !args.follow {
        return Ok(());
    }
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        tokio::select! {
            _ = &mut ctrl_c => return Ok(()),
            () = tokio::time::sleep(FOLLOW_INTERVAL) => {}
        }
        // Everything new before sleeping again, a page at a time.
        loop {
            let page = store
                .audit_page(after, audit::PAGE_SIZE)
                .await
                .map_err(AuditError::from)?;
            print_records(&page, args.json)?;
            let Some(last) = page.last() else {
                break;
            };
            after = last.seq;
            if page.len() < audit::PAGE_SIZE as usize {
                break;
            }
        }
    }
}

fn print_records(records: &[AuditRecord], json: bool) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    for record in records {
        if json {
            let line = serde_json::to_string(record).map_err(std::io::Error::other)?;
            writeln!(out, "{line}")?;
        } else {
            writeln!(out, "{}", record.line())?;
        }
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
