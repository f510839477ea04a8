//! `satsgate-local [--listen 127.0.0.1:3000] [--data-dir .satsgate] [--memory] [--live]`
//! `satsgate-local create-account [--name NAME]` (uses TABLE_NAME when set)
//! `satsgate-local create-user --username NAME [--account-key KEY]` (password on stdin)

use satsgate::app::{App, Config, Runtime};
use satsgate::bootstrap::Storage;
use std::path::PathBuf;
use std::sync::Arc;

/// The command line; `--listen`, `--data-dir` and `--account-key` stand in
/// for their variables (`SATSGATE_LISTEN`, ...) when given.
struct Args {
    listen: Option<String>,
    data_dir: Option<PathBuf>,
    memory: bool,
    live: bool,
    command: Option<String>,
    name: String,
    username: Option<String>,
    account_key: Option<String>,
}

const USAGE: &str = "usage: satsgate-local [--listen ADDR] [--data-dir DIR] [--memory] [--live]\n       satsgate-local create-account [--name NAME]\n       satsgate-local create-user --username NAME [--account-key KEY]   (password on stdin; KEY defaults to $SATSGATE_ACCOUNT_KEY)";

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        listen: None,
        data_dir: None,
        memory: false,
        live: false,
        command: None,
        name: "Account".into(),
        username: None,
        account_key: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--listen" => a.listen = Some(it.next().ok_or("--listen needs an address")?),
            "--data-dir" => {
                a.data_dir = Some(PathBuf::from(it.next().ok_or("--data-dir needs a path")?))
            }
            "--memory" => a.memory = true,
            "--live" => a.live = true,
            "--name" => a.name = it.next().ok_or("--name needs a value")?,
            "--username" => a.username = Some(it.next().ok_or("--username needs a value")?),
            "--account-key" => a.account_key = Some(it.next().ok_or("--account-key needs a key")?),
            "create-account" | "create-user" if a.command.is_none() => a.command = Some(arg),
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument `{other}`\n{USAGE}")),
        }
    }
    Ok(a)
}

fn main() {
    limit_malloc_arenas();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("the tokio runtime");
    if let Err(e) = runtime.block_on(run()) {
        eprintln!("satsgate-local: {e}");
        std::process::exit(2);
    }
}

/// Two glibc malloc arenas instead of up to eight per core: the blocking
/// pool's threads (SQLite writes) would each take an arena and keep its
/// freed memory, which measured about 10 MB more RSS by 10,000 invoices.
/// Set before any thread starts; `MALLOC_ARENA_MAX` in the environment wins.
fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt only sets an allocator parameter; no thread runs yet.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 2);
        }
    }
}

async fn run() -> Result<(), String> {
    let args = parse_args()?;
    // The environment, with the command line's flags in place of their
    // variables.
    let config = Config::from_lookup(Runtime::Local, |name| {
        let flag = match name {
            "SATSGATE_LISTEN" => args.listen.clone(),
            "SATSGATE_DATA_DIR" => args.data_dir.as_ref().map(|d| d.display().to_string()),
            "SATSGATE_ACCOUNT_KEY" => args.account_key.clone(),
            _ => None,
        };
        flag.or_else(|| std::env::var(name).ok())
    })?;
    satsgate::telemetry::init(false, config.log_filter.as_deref());
    let limits = satsgate_local::Limits::from_env()?;
    let storage = if config.table_name.is_some() {
        Storage::Dynamo
    } else if args.memory {
        Storage::Memory
    } else {
        Storage::Dir(config.data_dir.clone())
    };
    let where_ = match &storage {
        Storage::Dynamo => format!(
            "DynamoDB table {}",
            config.table_name.as_deref().unwrap_or_default()
        ),
        Storage::Dir(d) => format!(
            "{}",
            std::fs::canonicalize(d)
                .unwrap_or_else(|_| d.clone())
                .display()
        ),
        Storage::Memory => "memory (nothing is kept)".into(),
    };
    // One server per data directory; commands share it with a running one.
    let _lock = match &storage {
        Storage::Dir(dir) if args.command.is_none() => {
            Some(satsgate_local::lock::lock_data_dir(dir)?)
        }
        _ => None,
    };
    let listen = config.listen.clone();
    let account_key = config.account_key.clone();
    let mut app = App::build(storage, config).await?;
    if args.live {
        app = app.with_live_sources()?;
    }
    let app = Arc::new(app);

    if args.command.as_deref() == Some("create-account") {
        let (account, _key, secret) =
            satsgate::account::create_account(&*app.table, &args.name, app.now())
                .await
                .map_err(|e| e.to_string())?;
        println!("account {} created in {where_}", account.id);
        println!("SATSGATE_ACCOUNT_KEY={secret}");
        return Ok(());
    }

    if args.command.as_deref() == Some("create-user") {
        return create_user(&app, &args, account_key.as_deref()).await;
    }

    match satsgate_local::demo::ensure_demo(&app).await? {
        Some(demo) => {
            println!(
                "created demo account and regtest store {} (keys are shown only now)",
                demo.store_id
            );
            println!("SATSGATE_ACCOUNT_KEY={}", demo.account_key);
            println!("SATSGATE_STORE_KEY={}", demo.store_key);
        }
        None => println!("demo account exists (its keys were printed at first start)"),
    }
    println!("data: {where_}");
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    let schedule = satsgate_local::jobs::Schedule::default();
    let running = satsgate_local::start_with_jobs_limited(app, listener, &schedule, limits)
        .await
        .map_err(|e| e.to_string())?;
    println!("listening on {}", running.url());
    tokio::signal::ctrl_c().await.ok();
    running.stop().await;
    Ok(())
}

/// `create-user`: a user of the account whose key is given, with the
/// password read from the first line of stdin (never from the command line).
async fn create_user(app: &App, args: &Args, account_key: Option<&str>) -> Result<(), String> {
    let username = args
        .username
        .as_deref()
        .ok_or(format!("--username is required\n{USAGE}"))?;
    let key =
        account_key.ok_or("give the account key with --account-key or SATSGATE_ACCOUNT_KEY")?;
    let item = app
        .table
        .get(&satsgate::schema::api_key(&satsgate::auth::hash_key(key)))
        .await
        .map_err(|e| e.to_string())?
        .ok_or("that account key is not known here")?;
    let record: satsgate::account::ApiKeyRecord =
        satsgate::records::from_item(item).map_err(|e| e.message)?;
    if record.kind != satsgate::auth::KeyKind::Account {
        return Err("that is a store key; users belong to an account: give an account key".into());
    }
    let mut password = String::new();
    std::io::stdin()
        .read_line(&mut password)
        .map_err(|e| format!("reading the password from stdin: {e}"))?;
    let password = password.trim_end_matches(['\r', '\n']);
    let user = satsgate::users::create_user(
        &*app.table,
        &record.account_id,
        username,
        password,
        app.now(),
    )
    .await
    .map_err(|e| e.to_string())?;
    println!(
        "user {} ({}) created in account {}",
        user.username, user.id, record.account_id
    );
    Ok(())
}
