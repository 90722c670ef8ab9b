//! `server`: runs the identity server. See `server --help` for its configuration.

use clap::{Parser, Subcommand};
use server::{Application, Config, config::ENV_HELP, shutdown, telemetry};
use std::{path::PathBuf, process::ExitCode};

/// Identity server with user impersonation done right (OAuth 2.0, OpenID Connect, SCIM 2.0).
#[derive(Parser)]
#[command(version, after_long_help = ENV_HELP, after_help = ENV_HELP)]
struct Args {
    /// TOML configuration file (the same as IDP_CONFIG)
    #[arg(long, value_name = "FILE", global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve (the default)
    Serve,
    /// Rotate the signing keys (the same as `keys rotate`)
    #[command(hide = true)]
    RotateKeys,
    /// Signing keys
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Manage users from the command line (no administrator needed)
    Users {
        #[command(subcommand)]
        command: UsersCommand,
    },
    /// Copy the embedded SQLite database to FILE, consistently, while the server runs
    /// (for PostgreSQL, use pg_dump)
    Backup {
        /// Where the copy goes (a new file)
        file: PathBuf,
    },
    /// Make FILE (a backup) the database of a stopped server's data folder; refuses a
    /// backup of a newer version
    Restore {
        /// The backup to restore
        file: PathBuf,
    },
    /// Check the configuration, the database and its migrations, and the SMTP server;
    /// changes nothing, exits non-zero when something is wrong
    Check,
}

#[derive(Subcommand)]
enum KeysCommand {
    /// The next key starts signing, the active key retires (it keeps verifying). Running
    /// servers pick the change up within 30 seconds, without a restart.
    Rotate,
}

#[derive(Subcommand)]
enum UsersCommand {
    /// End a user's sign-in lock (after failed passwords, or set by an administrator)
    Unlock {
        /// The user's username
        username: String,
    },
    /// Set a new password: generated and printed, or read from standard input
    ResetPassword {
        /// The user's username
        username: String,
        /// Read the new password from the first line of standard input
        #[arg(long)]
        password_stdin: bool,
    },
    /// Disable a user: their sign-ins, tokens and impersonations stop counting
    Disable {
        /// The user's username
        username: String,
    },
}

/// Prints what a command did, or its error, and the exit code that says which.
fn report(outcome: anyhow::Result<String>) -> ExitCode {
    match outcome {
        Ok(text) => {
            println!("{text}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("server: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs an operator's command (anything but serving).
async fn operate(command: Command, config: &Config) -> ExitCode {
    use server::operator::{self, UserChange};
    match command {
        Command::Serve => unreachable!("serving is not an operator's command"),
        Command::RotateKeys
        | Command::Keys {
            command: KeysCommand::Rotate,
        } => report(
            operator::rotate_keys(config)
                .await
                .map(|kid| format!("signing keys rotated; the active key is now {kid}")),
        ),
        Command::Users { command } => {
            let (username, change) = match command {
                UsersCommand::Unlock { username } => (username, UserChange::Unlock),
                UsersCommand::Disable { username } => (username, UserChange::Disable),
                UsersCommand::ResetPassword {
                    username,
                    password_stdin,
                } => {
                    let given = match password_stdin {
                        false => None,
                        true => {
                            let mut line = String::new();
                            if let Err(error) = std::io::stdin().read_line(&mut line) {
                                return report(Err(error.into()));
                            }
                            Some(line.trim_end_matches(['\r', '\n']).to_owned())
                        }
                    };
                    (username, UserChange::ResetPassword(given))
                }
            };
            report(operator::change_user(config, &username, change).await)
        }
        Command::Backup { file } => report(
            operator::backup(config, &file)
                .await
                .map(|bytes| format!("backed up to {} ({bytes} bytes)", file.display())),
        ),
        Command::Restore { file } => report(operator::restore(config, &file).await.map(|()| {
            format!(
                "restored {} into {}; start the server",
                file.display(),
                config.data_dir.display()
            )
        })),
        Command::Check => {
            let lines = operator::check(config).await;
            for line in &lines {
                println!("{} {}", if line.ok { "ok  " } else { "FAIL" }, line.what);
            }
            match lines.iter().all(|l| l.ok) {
                true => ExitCode::SUCCESS,
                false => ExitCode::FAILURE,
            }
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let config = match Config::load(args.config) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("server: {error}");
            return ExitCode::from(2);
        }
    };
    let telemetry = telemetry::init(config.log_format);
    let code = match args.command {
        Some(command) if !matches!(command, Command::Serve) => operate(command, &config).await,
        _ => serve(config).await,
    };
    // The exporter's last batch goes out on this runtime: shut it down from a thread of
    // its own, not from one of the runtime's workers.
    let _ = tokio::task::spawn_blocking(move || telemetry.shutdown()).await;
    code
}

async fn serve(config: Config) -> ExitCode {
    let application = match Application::build(config).await {
        Ok(application) => application,
        Err(error) => {
            tracing::error!("start-up failed: {error:#}");
            eprintln!("server: {error:#}");
            return ExitCode::FAILURE;
        }
    };
    let stop = shutdown::signal();
    print_welcome(&application);
    match application.run_until_stopped(stop).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("server failed: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Tells the operator where the server is and how to sign in.
/// Written with errors ignored: a closed standard output (the operator piped it to `head`,
/// a supervisor stopped reading) must not stop the server.
fn print_welcome(application: &Application) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let url = application.public_url();
    let _ = writeln!(out);
    let _ = writeln!(out, "  Identity Server is running at {url}");
    let _ = writeln!(out, "  Console:    {url}/console");
    match &application.seed_report().generated_admin_password {
        Some(password) => {
            let _ = writeln!(out, "  Sign in as: admin");
            let _ = writeln!(out, "  Password:   {password}");
            let _ = writeln!(
                out,
                "  (generated now and shown only this once: keep it, or set IDP_ADMIN_PASSWORD"
            );
            let _ = writeln!(out, "   before the first start of a new data folder)");
        }
        None if application.seed_report().created_admin => {
            let _ = writeln!(
                out,
                "  Sign in as: admin, with the password from IDP_ADMIN_PASSWORD"
            );
        }
        None => {
            let _ = writeln!(
                out,
                "  Sign in as: admin (its password was set at the first start)"
            );
        }
    }
    let _ = writeln!(out);
}
