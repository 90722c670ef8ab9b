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
    /// Rotate the signing keys: the next key starts signing, the active key retires.
    /// Running servers pick the change up within 30 seconds, without a restart.
    RotateKeys,
    /// Manage users from the command line (no administrator needed)
    Users {
        #[command(subcommand)]
        command: UsersCommand,
    },
}

#[derive(Subcommand)]
enum UsersCommand {
    /// End a user's sign-in lock (after failed passwords, or set by an administrator)
    Unlock {
        /// The user's username
        username: String,
    },
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
    telemetry::init(config.log_format);
    if let Some(Command::RotateKeys) = &args.command {
        return match server::startup::rotate_keys(&config).await {
            Ok(kid) => {
                println!("signing keys rotated; the active key is now {kid}");
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("server: {error:#}");
                ExitCode::FAILURE
            }
        };
    }
    if let Some(Command::Users {
        command: UsersCommand::Unlock { username },
    }) = &args.command
    {
        return match server::startup::unlock_user(&config, username).await {
            Ok(true) => {
                println!("{username} is unlocked and may sign in again");
                ExitCode::SUCCESS
            }
            Ok(false) => {
                eprintln!("server: there is no user {username}");
                ExitCode::FAILURE
            }
            Err(error) => {
                eprintln!("server: {error:#}");
                ExitCode::FAILURE
            }
        };
    }
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
