//! Running a command through the server that holds the database, over loopback, authenticated
//! by the admin secret only the data dir's owner can read.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow};

use crate::manage::{Command, Outcome};
use crate::runtime::RunningServer;
use crate::secrets::admin_secret_path;

/// How long a command waits for a server that holds the database but has not announced itself
/// yet (it is between opening the database and binding its port).
const ANNOUNCE_WAIT: Duration = Duration::from_secs(5);

/// The command through the server that announced itself in the data dir, if one is there and
/// takes connections. `None` means nobody answered, so the command was certainly not run.
pub fn try_running_server(data_dir: &Path, command: &Command) -> Option<anyhow::Result<Outcome>> {
    let server = RunningServer::read(data_dir).filter(RunningServer::is_alive)?;
    match send(data_dir, &server, command) {
        Err(Sent::Nobody) => None,
        Err(Sent::Failed(e)) => Some(Err(e)),
        Ok(outcome) => Some(Ok(outcome)),
    }
}

/// The command through the server, for when the database is known to be held: waits briefly
/// for a server that is still starting to announce itself.
pub fn execute(data_dir: &Path, command: &Command) -> anyhow::Result<Outcome> {
    let deadline = Instant::now() + ANNOUNCE_WAIT;
    loop {
        if let Some(result) = try_running_server(data_dir, command) {
            return result;
        }
        if Instant::now() >= deadline {
            return Err(anyhow!(
                "the database in {} is held by another process that does not answer as a \
                 streamd server; stop that process and try again",
                data_dir.display()
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

enum Sent {
    /// No connection was made: the command never reached a server.
    Nobody,
    Failed(anyhow::Error),
}

fn send(data_dir: &Path, server: &RunningServer, command: &Command) -> Result<Outcome, Sent> {
    let secret_path = admin_secret_path(data_dir);
    let secret = std::fs::read_to_string(&secret_path)
        .with_context(|| format!("reading the admin secret {}", secret_path.display()))
        .map_err(Sent::Failed)?;
    let url = format!(
        "http://{}{}",
        server.connect_addr(),
        crate::web::local::CLI_PATH
    );
    // Loopback only: an HTTP(S)_PROXY in the environment must not take the admin secret away.
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .proxy(None)
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(120)))
        .build()
        .into();
    let mut res = agent
        .post(&url)
        .header("Authorization", format!("Bearer {}", secret.trim()))
        .send_json(command)
        .map_err(|e| match &e {
            ureq::Error::ConnectionFailed => Sent::Nobody,
            ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
                Sent::Nobody
            }
            _ => Sent::Failed(anyhow!(
                "streamd (pid {}) holds the database but does not answer on {}: {e}",
                server.pid,
                server.connect_addr()
            )),
        })?;
    if res.status().is_success() {
        return res
            .body_mut()
            .read_json::<Outcome>()
            .context("reading the server's answer")
            .map_err(Sent::Failed);
    }
    #[derive(serde::Deserialize)]
    struct Body {
        error: Inner,
    }
    #[derive(serde::Deserialize)]
    struct Inner {
        message: String,
    }
    let status = res.status();
    Err(Sent::Failed(match res.body_mut().read_json::<Body>() {
        Ok(b) => anyhow!(b.error.message),
        Err(_) => anyhow!("the running server answered {status}"),
    }))
}
